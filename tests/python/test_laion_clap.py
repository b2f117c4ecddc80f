"""clapsearch.laion_clap: LAION's README example with only the import changed, and golden
parity through the shim (LAION .pt checkpoints of tests/data)."""

import os
import shutil

import numpy as np
import pytest

from conftest import CASES, case_dir, cases_json, deterministic_clips, expect_embedding, golden_clip, read_safetensors, write_wav


def shim(case):
    from clapsearch import laion_clap

    model = laion_clap.CLAP_Module(enable_fusion=(case == "tiny-fused"))
    model.load_ckpt(os.path.join(case_dir(case), "laion.pt"), verbose=False)
    return model


@pytest.mark.parametrize("case", CASES)
def test_golden_parity_through_the_shim(case):
    model = shim(case)
    expected = read_safetensors(os.path.join(case_dir(case), "expected.safetensors"))
    texts = cases_json(case)["texts"]
    got = model.get_text_embedding(texts)
    assert isinstance(got, np.ndarray) and got.shape == (len(texts), 512)
    # LAION's get_text_embedding tokenizes with max_length=77, truncation=True (hook.py): the
    # reference's embeddings of the texts cut at 77 tokens, which differ from the uncut ones for
    # the long text (8: 0.0095 apart in tiny-unfused), where clapsearch.Model cuts at 512.
    longer = [i for i in range(len(texts)) if not np.array_equal(expected["text_trunc77_text_embeds"][i], expected["text_embeds_unpadded"][i])]
    assert longer, "the golden texts hold one longer than 77 tokens"
    for i in range(len(texts)):
        expect_embedding(got[i], expected["text_trunc77_text_embeds"][i], f"{case} text {i} (LAION's 77 tokens)")
    for i in longer:
        expect_embedding(model.model.embed_text(texts[i])[0], expected["text_embeds_unpadded"][i], f"{case} text {i} (Model)")
    for x in deterministic_clips(case):
        clip = golden_clip(x).reshape(1, -1)
        # The model the shim loaded from LAION's .pt file embeds as the reference does...
        expect_embedding(model.model.embed_audio(clip)[0], expected[f"clip_{x}_audio_embeds"], f"{case} clip {x}")
        # ...and get_audio_embedding_from_data embeds the clip after LAION's 16-bit quantisation
        # (which the reference's processor, fed float samples, does not apply).
        emb = model.get_audio_embedding_from_data(x=clip, use_tensor=False)
        np.testing.assert_array_equal(emb, model.model.embed_audio(laion_quantised(clip)))


def laion_quantised(x):
    """LAION's int16_to_float32(float32_to_int16(x)), written out here (README / training/data.py)."""
    return ((np.clip(x, a_min=-1.0, a_max=1.0) * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)


def test_data_is_quantised_through_16_bits_as_laion_does():
    """LAION's get_audio_embedding_from_data(x, use_tensor=False) embeds every waveform after
    int16_to_float32(float32_to_int16(x)); so does the drop-in, bit for bit, float64 included."""
    model = shim("tiny-unfused")
    x = np.stack([golden_clip("b"), golden_clip("e")[: golden_clip("b").size] * 1.7])  # the second one clips
    got = model.get_audio_embedding_from_data(x=x, use_tensor=False)
    np.testing.assert_array_equal(got, model.model.embed_audio(laion_quantised(x)))
    # The quantisation matters: skipping it gives other embeddings.
    assert not np.array_equal(got, model.model.embed_audio(x))
    # Truncation toward zero, not rounding: 0.99999 * 32767 = 32766.67 -> 32766.
    assert laion_quantised(np.array([0.99999, -0.99999], np.float32)).tolist() == [np.float32(32766 / 32767.0), np.float32(-32766 / 32767.0)]
    # float64 samples (LAION takes them: the product is made in float64 before the cast).
    x64 = x.astype(np.float64) * (1 + 1e-9)
    np.testing.assert_array_equal(model.get_audio_embedding_from_data(x=x64), model.model.embed_audio(laion_quantised(x64)))


def test_use_tensor_true_is_refused_naming_the_alternative():
    model = shim("tiny-unfused")
    import clapsearch

    for call in (
        lambda: model.get_audio_embedding_from_data(x=golden_clip("b").reshape(1, -1), use_tensor=True),
        lambda: model.get_audio_embedding_from_filelist(x=[os.devnull], use_tensor=True),
        lambda: model.get_text_embedding(["x"], use_tensor=True),
    ):
        with pytest.raises(clapsearch.Error, match="gradients.*use_tensor=False"):
            call()


def test_int16_data_and_files(tmp_path):
    model = shim("tiny-unfused")
    clip = golden_clip("b")
    q16 = (np.clip(clip, -1, 1) * 32767.0).astype(np.int16)
    from_int16 = model.get_audio_embedding_from_data(x=q16.reshape(1, -1))
    # int16 samples are the float clip's quantisation: the same embedding.
    np.testing.assert_array_equal(from_int16, model.get_audio_embedding_from_data(x=clip.reshape(1, -1)))
    # Files are decoded at 48 kHz and quantised to 16 bits, as LAION's module does.
    path = write_wav(str(tmp_path / "b.wav"), clip, 48000)
    np.testing.assert_array_equal(model.get_audio_embedding_from_filelist(x=[path]), from_int16)


def test_fusion_mismatch_and_missing_checkpoint_are_clear():
    import clapsearch
    from clapsearch import laion_clap

    with pytest.raises(clapsearch.Error, match="enable_fusion"):
        laion_clap.CLAP_Module(enable_fusion=True).load_ckpt(os.path.join(case_dir("tiny-unfused"), "laion.pt"), verbose=False)
    with pytest.raises(FileNotFoundError):
        laion_clap.CLAP_Module().load_ckpt("/nonexistent/630k-audioset-best.pt")
    with pytest.raises(clapsearch.Error, match="load_ckpt"):
        laion_clap.CLAP_Module().get_text_embedding(["x"])


def test_default_checkpoint_offline_is_a_clear_error(tmp_path, monkeypatch):
    import clapsearch
    from clapsearch import laion_clap

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(clapsearch.Error, match="laion/clap-htsat-unfused"):
        laion_clap.CLAP_Module(enable_fusion=False).load_ckpt()


def hf_cache_with(cache, repo, folder):
    """A Hugging Face cache holding `folder` as repo's main revision, laid out as huggingface_hub does."""
    commit = "0" * 40
    storage = os.path.join(cache, "models--" + repo.replace("/", "--"))
    snap = os.path.join(storage, "snapshots", commit)
    os.makedirs(snap)
    os.makedirs(os.path.join(storage, "refs"))
    with open(os.path.join(storage, "refs", "main"), "w") as f:
        f.write(commit)
    for name in os.listdir(folder):
        if name.endswith(".json") or name in ("model.safetensors", "vocab.json", "merges.txt"):
            shutil.copy(os.path.join(folder, name), snap)


# LAION's README (https://github.com/LAION-AI/CLAP, "Quick start"), with `import laion_clap`
# changed to the clapsearch import. librosa.load is this machine's stand-in below (librosa is
# not installed here); the use_tensor=True steps run when PyTorch imports.
README_EXAMPLE = '''
import numpy as np
from clapsearch import laion_clap

# quantization
def int16_to_float32(x):
    return (x / 32767.0).astype(np.float32)


def float32_to_int16(x):
    x = np.clip(x, a_min=-1., a_max=1.)
    return (x * 32767.).astype(np.int16)

model = laion_clap.CLAP_Module(enable_fusion=False)
model.load_ckpt() # download the default pretrained checkpoint.

# Directly get audio embeddings from audio files
audio_file = [
    '/home/data/test_clap_short.wav',
    '/home/data/test_clap_long.wav'
]
audio_embed = model.get_audio_embedding_from_filelist(x = audio_file, use_tensor=False)
print(audio_embed[:,-20:])
print(audio_embed.shape)

# Get audio embeddings from audio data
audio_data, _ = librosa.load('/home/data/test_clap_short.wav', sr=48000) # sample rate should be 48000
audio_data = audio_data.reshape(1, -1) # Make it (1,T) or (N,T)
audio_embed = model.get_audio_embedding_from_data(x = audio_data, use_tensor=False)
print(audio_embed[:,-20:])
print(audio_embed.shape)

# Get text embedings from texts:
text_data = ["I love the contrastive learning", "I love the pretrain model"] 
text_embed = model.get_text_embedding(text_data)
print(text_embed)
print(text_embed.shape)
'''

README_TENSOR_PART = '''
# Directly get audio embeddings from audio files, but return torch tensor
audio_embed = model.get_audio_embedding_from_filelist(x = audio_file, use_tensor=True)
print(audio_embed[:,-20:])
print(audio_embed.shape)

# Get audio embeddings from audio data
audio_data, _ = librosa.load('/home/data/test_clap_short.wav', sr=48000) # sample rate should be 48000
audio_data = audio_data.reshape(1, -1) # Make it (1,T) or (N,T)
audio_data = torch.from_numpy(int16_to_float32(float32_to_int16(audio_data))).float() # quantize before send it in to the model
audio_embed = model.get_audio_embedding_from_data(x = audio_data, use_tensor=True)
print(audio_embed[:,-20:])
print(audio_embed.shape)

# Get text embedings from texts, but return torch tensor:
text_data = ["I love the contrastive learning", "I love the pretrain model"] 
text_embed = model.get_text_embedding(text_data, use_tensor=True)
print(text_embed)
print(text_embed.shape)
'''


class _Librosa:
    """librosa.load's contract (mono float32 at sr) through clapsearch's decoder."""

    @staticmethod
    def load(path, sr=22050):
        import clapsearch

        return clapsearch.load_audio(path, sr), sr


def test_laion_readme_example_runs(tmp_path, monkeypatch, capsys):
    from conftest import ffmpeg

    cache = str(tmp_path / "hf")
    hf_cache_with(cache, "laion/clap-htsat-unfused", case_dir("tiny-unfused"))
    monkeypatch.setenv("HF_HUB_CACHE", cache)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    short = ffmpeg(str(tmp_path / "test_clap_short.wav"), '-f lavfi -i "sine=f=440:d=4:sample_rate=48000"')
    long = ffmpeg(str(tmp_path / "test_clap_long.wav"), '-f lavfi -i "anoisesrc=c=pink:d=14:a=0.3:r=44100:seed=4"')
    source = README_EXAMPLE.replace("/home/data/test_clap_short.wav", short).replace("/home/data/test_clap_long.wav", long)
    env = {"librosa": _Librosa}
    exec(compile(source, "laion_readme", "exec"), env)  # noqa: S102
    assert env["audio_embed"].shape == (1, 512)
    assert env["text_embed"].shape == (2, 512)
    out = capsys.readouterr().out
    assert "(2, 512)" in out and "(1, 512)" in out
    # LAION's load_ckpt reports through logging.info (silent by default), not on stdout: the
    # example prints only what its own print calls print.
    assert "checkpoint" not in out, out
    # use_tensor=True asks for gradients through LAION's PyTorch model: refused, naming use_tensor=False.
    import clapsearch

    tensor_source = README_TENSOR_PART.replace("/home/data/test_clap_short.wav", short)
    with pytest.raises(clapsearch.Error, match="use_tensor=False"):
        exec(compile(tensor_source, "laion_readme_tensor", "exec"), env)  # noqa: S102


def test_hostile9_a_list_of_clips_of_any_lengths_is_embedded_as_laion_does():
    """H9P-5: LAION's get_audio_embedding_from_data loops `for audio_waveform in x`, so a list
    of 1-D clips of different lengths works there, each quantised and padded alone; the drop-in
    refused any list ("audio must be a numpy array or a torch tensor (got list)")."""
    model = shim("tiny-unfused")
    b, e = golden_clip("b"), golden_clip("e")[:30000]
    got = model.get_audio_embedding_from_data(x=[b, e], use_tensor=False)
    assert got.shape == (2, 512)
    np.testing.assert_array_equal(got[0], model.get_audio_embedding_from_data(x=b.reshape(1, -1))[0])
    np.testing.assert_array_equal(got[1], model.get_audio_embedding_from_data(x=e.reshape(1, -1))[0])
    np.testing.assert_array_equal(model.get_audio_embedding_from_data(x=(b.astype(np.float64),)),
                                  model.get_audio_embedding_from_data(x=b.astype(np.float64).reshape(1, -1)))
    from clapsearch import InvalidInputError

    with pytest.raises(InvalidInputError, match="no clips"):
        model.get_audio_embedding_from_data(x=[])
    with pytest.raises(InvalidInputError, match="clip 1: each clip of a list must be 1-D"):
        model.get_audio_embedding_from_data(x=[b, np.stack([b, b])])
    # A clip given as a list of numbers: LAION's np.clip makes it a float64 array.
    short = [float(v) for v in b[:4800]]
    np.testing.assert_array_equal(model.get_audio_embedding_from_data(x=[short]),
                                  model.get_audio_embedding_from_data(x=np.array([short], dtype=np.float64)))
    with pytest.raises(InvalidInputError, match="clip 0 must be a numpy array"):
        model.get_audio_embedding_from_data(x=[["0.1", "0.2"]])
    # LAION's module is a torch.nn.Module: scripts call eval(), a no-op here.
    assert model.eval() is model


def test_hostile9_texts_are_cut_at_77_tokens_as_laions_tokenizer_cuts_them():
    """H9P-6: LAION's get_text_embedding tokenizes with max_length=77, truncation=True, so a
    text past 77 tokens embeds as <s> + its first 75 tokens + </s>; the drop-in kept the model's
    512 and gave another embedding than LAION's for a long text (a description, a lyric)."""
    model = shim("tiny-unfused")
    the = lambda n: " ".join(["the"] * n)  # "the" then " the": one token each (roberta's vocab)
    got = model.get_text_embedding([the(300), the(75), the(74)])
    np.testing.assert_array_equal(got[0], model.model.embed_text(the(75))[0])  # LAION's cut
    assert not np.array_equal(got[0], model.model.embed_text(the(300))[0])  # what the drop-in gave
    assert not np.array_equal(got[0], model.model.embed_text(the(76))[0])  # the cut is at 77, not later
    # Texts within 77 tokens are untouched.
    np.testing.assert_array_equal(got[1:], model.model.embed_text([the(75), the(74)]))


def test_hostile9_laions_readme_device_cuda_runs_on_the_cpu_with_a_warning():
    """H9P-8: LAION's ESC-50 README example makes CLAP_Module(enable_fusion=False,
    device=torch.device('cuda:0')); the drop-in refused any device but the CPU, so the example
    did not run unchanged. It runs, on the CPU, and says so; a name torch refuses is refused."""
    from clapsearch import InvalidInputError, laion_clap

    class TorchDevice:  # what str() of torch.device("cuda:0") gives (torch is not installed here)
        def __str__(self):
            return "cuda:0"

    with pytest.warns(RuntimeWarning, match="clapsearch runs on the CPU"):
        module = laion_clap.CLAP_Module(enable_fusion=False, device=TorchDevice())
    module.load_ckpt(os.path.join(case_dir("tiny-unfused"), "laion.pt"), verbose=False)
    np.testing.assert_array_equal(module.get_text_embedding(["rain"]), shim("tiny-unfused").get_text_embedding(["rain"]))
    with pytest.warns(RuntimeWarning):
        laion_clap.CLAP_Module(device="cuda")
    with pytest.raises(InvalidInputError, match="not a torch device"):
        laion_clap.CLAP_Module(device="gpu0")


def test_hostile10_model_id_is_read_as_laion_reads_it(tmp_path, monkeypatch):
    """LAION's load_ckpt reads model_id only without a checkpoint, and -1 there means 1 (3 fused):
    load_ckpt(FILE, model_id=1), which LAION's code runs, was refused with "name the checkpoint
    instead" although it was named; a checkpoint named as bytes raised TypeError ("Can't mix
    strings and bytes in path components")."""
    import clapsearch
    from clapsearch import laion_clap

    pt = os.path.join(case_dir("tiny-unfused"), "laion.pt")
    named = laion_clap.CLAP_Module()
    named.load_ckpt(pt, model_id=1, verbose=False)
    as_bytes = laion_clap.CLAP_Module()
    as_bytes.load_ckpt(os.fsencode(pt), model_id=0, verbose=False)  # a file wins over any model_id, as in LAION's
    assert np.array_equal(named.get_text_embedding(["rain"]), as_bytes.get_text_embedding(["rain"]))
    # Without a file: the default's own id is the default (here resolved offline from an empty cache).
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(clapsearch.Error, match="laion/clap-htsat-unfused"):
        laion_clap.CLAP_Module().load_ckpt(model_id=1)
    with pytest.raises(clapsearch.Error, match="laion/clap-htsat-fused"):
        laion_clap.CLAP_Module(enable_fusion=True).load_ckpt(model_id=3)
    for other in (0, 2, 3):
        with pytest.raises(clapsearch.InvalidInputError, match=f"model_id={other}: only LAION's default checkpoint"):
            laion_clap.CLAP_Module().load_ckpt(model_id=other)


def test_hostile10_a_stereo_array_is_refused_not_embedded_as_thousands_of_clips():
    """(frames, channels), as soundfile.read gives stereo, was taken as 48000 clips of 2 samples
    each: 48000 model runs (over 90 s for one second of audio) and 48000 meaningless rows."""
    from clapsearch import laion_clap

    model = shim("tiny-unfused")
    stereo = np.zeros((48000, 2), np.float32) + 0.1
    with pytest.raises(ValueError, match=r"shape \(48000, 2\).*48000 clips of 2 sample\(s\).*data.mean\(axis=1\)"):
        model.get_audio_embedding_from_data(stereo)
    assert model.get_audio_embedding_from_data(stereo.mean(axis=1).reshape(1, -1)).shape == (1, 512)
    assert laion_clap  # the module under test


def test_hostile10_a_device_ordinal_is_a_cuda_device_as_torch_takes_it():
    """torch.device(0) is cuda:0 and LAION's model.to(0) takes it: CLAP_Module(device=0) was
    refused as "not a torch device". It runs on the CPU with the warning a 'cuda:0' gets."""
    from clapsearch import laion_clap

    with pytest.warns(RuntimeWarning, match="device='cuda:1': clapsearch runs on the CPU"):
        laion_clap.CLAP_Module(device=1)
    with pytest.warns(RuntimeWarning, match="device='cuda:0'"):
        laion_clap.CLAP_Module(device=np.int64(0))
    for wrong in (-1, True, 1.5):
        with pytest.raises(ValueError, match="not a torch device"):
            laion_clap.CLAP_Module(device=wrong)


def test_hostile12_int16_samples_in_either_byte_order_are_int16():
    """H12P-3: big-endian int16 samples ('>i2', as an AIFF or a raw file gives them) were refused as
    "must be float ... or int16 samples (got dtype >i2)"; LAION's int16_to_float32 takes them, and
    so are they taken here: the same embedding as the native int16 array."""
    model = shim("tiny-unfused")
    q16 = (np.clip(golden_clip("b"), -1, 1) * 32767.0).astype(np.int16).reshape(1, -1)
    np.testing.assert_array_equal(model.get_audio_embedding_from_data(x=q16.astype(">i2")),
                                  model.get_audio_embedding_from_data(x=q16))


def test_hostile22_path_and_model_id_arguments_are_named(tmp_path, monkeypatch):
    """H22P-3: get_audio_embedding_from_filelist(x=b"a.wav") (one path as os.fsencode gives it,
    where a str is taken) iterated the bytes: "expected str, bytes or os.PathLike object, not
    int"; a list holding a number, x=None and load_ckpt(123) raised Python's own TypeError naming
    no argument. H22P-4: load_ckpt(model_id="1") said "model_id=1: only LAION's default checkpoint
    (model_id=1, ...)", refusing what it asked for; model_id=1.0 was taken (LAION's list index
    raises TypeError for both)."""
    import clapsearch

    model = shim("tiny-unfused")
    path = write_wav(str(tmp_path / "b.wav"), golden_clip("b"), 48000)
    np.testing.assert_array_equal(model.get_audio_embedding_from_filelist(x=os.fsencode(path)),
                                  model.get_audio_embedding_from_filelist(x=[path]))
    for wrong, said in (([path, 7], "file 1 must be a path"), (None, "x must be a path or a list of paths"),
                        ([None], "file 0 must be a path")):
        with pytest.raises(clapsearch.InvalidInputError, match=said):
            model.get_audio_embedding_from_filelist(x=wrong)
    with pytest.raises(clapsearch.InvalidInputError, match=r"ckpt must be a checkpoint file.*\(got int\)"):
        model.load_ckpt(123)
    assert model.get_text_embedding(["rain"]).shape == (1, 512)  # a refused load keeps the loaded model
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for wrong in ("1", 1.0, None):
        with pytest.raises(clapsearch.InvalidInputError, match=r"model_id must be an integer.*\(got " + repr(wrong)):
            shim("tiny-unfused").load_ckpt(model_id=wrong)
