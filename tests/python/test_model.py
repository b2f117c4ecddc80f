"""clapsearch.Model: golden parity from Python for every golden case (the Hugging Face folder
and the same weights as LAION's .pt), with the engine's tolerances; the CLI's `embed` gives
the same numbers for files; whole-song mode equals the index's windowing."""

import json
import os

import numpy as np
import pytest

import clapsearch
from conftest import CASES, case_dir, cases_json, cli, deterministic_clips, expect_embedding, golden_clip, read_safetensors, write_wav

VARIANTS = [(c, fmt) for c in CASES for fmt in ("folder", "laion")]


def open_model(case, fmt):
    d = case_dir(case)
    if fmt == "folder":
        return clapsearch.Model(d)
    return clapsearch.Model(os.path.join(d, "laion.pt"), config=d, tokenizer=d)


@pytest.fixture(scope="module", params=VARIANTS, ids=[f"{c}@{f}" for c, f in VARIANTS])
def variant(request):
    case, fmt = request.param
    return case, open_model(case, fmt), read_safetensors(os.path.join(case_dir(case), "expected.safetensors"))


def test_text_embeddings_match_the_reference(variant):
    case, model, expected = variant
    texts = cases_json(case)["texts"]
    got = model.embed_text(texts)
    assert got.dtype == np.float32 and got.shape == (len(texts), model.dim)
    ref = expected["text_embeds_unpadded"]
    for i in range(len(texts)):
        expect_embedding(got[i], ref[i], f"{case} text {i}")
    # One string is a batch of one; norms are 1 like the CLI's.
    np.testing.assert_array_equal(model.embed_text(texts[0])[0], got[0])
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_audio_embeddings_match_the_reference(variant):
    case, model, expected = variant
    for x in deterministic_clips(case):
        got = model.embed_audio(golden_clip(x), 48000)
        assert got.shape == (1, model.dim)
        expect_embedding(got[0], expected[f"clip_{x}_audio_embeds"], f"{case} clip {x}")


def test_a_batch_gives_each_clip_alone(variant):
    case, model, expected = variant
    batch = np.stack([golden_clip("b"), golden_clip("e")])
    got = model.embed_audio(batch, 48000, batch=2)
    np.testing.assert_array_equal(got[0], model.embed_audio(golden_clip("b"))[0])
    np.testing.assert_array_equal(got[1], model.embed_audio(golden_clip("e"))[0])
    expect_embedding(got[0], expected["clip_b_audio_embeds"], f"{case} batch b")
    expect_embedding(got[1], expected["clip_e_audio_embeds"], f"{case} batch e")


def test_properties(variant):
    case, model, expected = variant
    assert model.dim == 512 and model.sample_rate == 48000 and model.precision == "fp32"
    np.testing.assert_allclose(model.logit_scale, float(expected["logit_scale_a_exp"].reshape(-1)[0]), rtol=1e-6)
    np.testing.assert_allclose(model.logit_scale_text, float(expected["logit_scale_t_exp"].reshape(-1)[0]), rtol=1e-6)
    cfg = model.config
    assert cfg["projection_dim"] == 512 and cfg["features"]["sampling_rate"] == 48000
    assert cfg["audio_config"]["enable_fusion"] == (case == "tiny-fused")
    assert os.path.isabs(model.name)


def test_files_equal_the_cli_embed(tmp_path, unfused):
    """embed_audio_files equals `clapsearch embed --audio` (decoding, resampling, windows)."""
    short = write_wav(str(tmp_path / "short.wav"), golden_clip("a"), 48000)
    long = write_wav(str(tmp_path / "long.wav"), golden_clip("f"), 48000)
    other_rate = str(tmp_path / "tone.flac")
    from conftest import ffmpeg

    ffmpeg(other_rate, '-f lavfi -i "sine=f=440:d=4:sample_rate=22050"')
    files = [short, long, other_rate]
    got = unfused.embed_audio_files(files)
    args = ["embed", "--model", case_dir("tiny-unfused")]
    for f in files:
        args += ["--audio", f]
    lines = cli(*args).stdout.splitlines()
    ref = np.array([json.loads(line)["embedding"] for line in lines], dtype=np.float32)
    np.testing.assert_array_equal(got, ref)


def test_samples_at_another_rate_are_resampled_as_a_file(tmp_path, unfused):
    from conftest import ffmpeg

    path = ffmpeg(str(tmp_path / "tone.wav"), '-f lavfi -i "sine=f=440:d=4:sample_rate=22050" -c:a pcm_f32le')
    samples = np.fromfile(path, dtype="<f4", offset=os.path.getsize(path) - 4 * 88200)
    assert samples.size == 88200
    np.testing.assert_array_equal(unfused.embed_audio(samples, 22050), unfused.embed_audio_files([path]))
    np.testing.assert_array_equal(clapsearch.load_audio(path, 48000), clapsearch.load_audio(path))


def test_whole_song_mode_is_the_index_windowing(tmp_path, unfused):
    song = np.concatenate([golden_clip("f"), golden_clip("b")])  # 27.3 s
    path = write_wav(str(tmp_path / "song.wav"), song, 48000)
    from_file = unfused.embed_song(path)
    from_array = unfused.embed_song(song, 48000)
    for key in ("windows", "starts", "ends", "silent", "track"):
        np.testing.assert_array_equal(from_file[key], from_array[key])
    n = len(from_file["starts"])
    assert from_file["windows"].shape == (n, 512) and n == 5
    np.testing.assert_allclose(from_file["starts"], [0, 5, 10, 15, 20])
    assert from_file["track"].shape == (512,)
    # The track embedding is what `clapsearch embed` gives a long file (mean of the windows).
    np.testing.assert_array_equal(from_file["track"], unfused.embed_audio_files([path])[0])
    # Each window is the clip cut there.
    np.testing.assert_array_equal(from_file["windows"][1], unfused.embed_audio(song[5 * 48000 : 15 * 48000])[0])
    other = unfused.embed_song(path, window=5, hop=2.5)
    assert len(other["starts"]) > n


def test_zero_copy_in_and_out(unfused):
    clip = golden_clip("b")
    out = unfused.embed_audio(clip)
    assert out.flags["C_CONTIGUOUS"] and out.flags["OWNDATA"] is False  # the engine's buffer, not a copy
    # A strided view is accepted (copied once to contiguous memory) and gives the same result.
    wide = np.zeros(clip.size * 2, dtype=np.float32)
    wide[::2] = clip
    np.testing.assert_array_equal(unfused.embed_audio(wide[::2]), out)


def test_help_reads_well():
    import pydoc

    text = pydoc.render_doc(clapsearch, renderer=pydoc.plaintext)
    for name in ("Model", "Library", "embed_text", "search_vectors", "laion_clap", "zero-shot"):
        assert name in text
    public = [getattr(clapsearch, n) for n in clapsearch.__all__ if not isinstance(getattr(clapsearch, n), str)]
    for obj in public:
        assert obj.__doc__, obj
    for cls in (clapsearch.Model, clapsearch.Library):
        for name, member in vars(cls).items():
            if not name.startswith("_"):
                assert getattr(member, "__doc__", None), f"{cls.__name__}.{name}"


def test_resampling_writes_no_file_and_follows_no_planted_symlink(tmp_path, unfused, monkeypatch):
    """M10: samples at another rate reached FFmpeg through a predictable
    $TMPDIR/clapsearch-python-<pid>-<n>.wav written through any symlink planted there. They now
    go through a memory file: the link's target is untouched and nothing is left in $TMPDIR."""
    tmpdir = tmp_path / "tmp"  # this process's $TMPDIR, seen by the engine (getenv at each use)
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    planted = {f"clapsearch-python-{os.getpid()}-{n}.wav" for n in range(64)}
    for name in planted:
        os.symlink(victim, tmpdir / name)
    clip = np.full(44100, 0.1, np.float32)
    assert unfused.embed_audio(clip, sr=44100).shape == (1, 512)
    assert unfused.embed_audio(np.stack([clip, clip * 0.5]), sr=22050).shape == (2, 512)
    assert unfused.embed_song(clip, 44100)["track"].shape == (512,)
    assert victim.read_text() == "precious"
    assert set(os.listdir(tmpdir)) == planted


def test_hostile11_a_hop_longer_than_the_file_is_refused_not_a_crash(tmp_path):
    """H11P-7: a hop longer than the file's first window (embed_audio_files(hop=35) or `clapsearch
    embed --hop 35` of a 30 s file) planned a second window starting past the end, its end before
    its start: hop 100 crashed (SIGSEGV, the interpreter with it), hop 35 and 40 embedded memory
    after the samples. audio::plan_windows starts no window at or past the end now
    (PlanWindows.AHopLongerThanTheWindowStartsNoWindowAtOrPastTheEnd), and a hop longer than the
    window is refused, as `index` refuses it (rough11): in a child process, so that a crash is a
    status, not the end of the test run."""
    import subprocess
    import sys

    rate = 48000
    t = np.arange(30 * rate) / rate
    song = write_wav(str(tmp_path / "song.wav"), (0.4 * np.sin(2 * np.pi * (200 + 30 * t) * t)).astype(np.float32), rate)
    code = f"""
import numpy as np, clapsearch
m = clapsearch.Model({case_dir("tiny-unfused")!r})
for h in (35, 40, 100):
    try:
        m.embed_audio_files([{song!r}], hop=h)
        raise SystemExit(f"hop {{h}} was embedded")
    except clapsearch.InvalidInputError as e:
        assert f"hop {{h}} s is longer than the model's window 10 s" in str(e), str(e)
try:
    m.embed_song(np.full(14400, 0.1, np.float32), sr=48000, window=0.2, hop=0.5)
    raise SystemExit("embed_song's hop 0.5 s over a window of 0.2 s was embedded")
except clapsearch.InvalidInputError:
    pass
print("refused")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "refused", f"status {done.returncode}: {done.stdout} {done.stderr[-500:]}"
    for hop in ("35", "100"):
        r = cli("embed", "--model", case_dir("tiny-unfused"), "--audio", song, "--hop", hop, check=False)
        assert r.returncode == 2, f"embed --hop {hop}: status {r.returncode}: {r.stderr}"
        assert f"--hop {hop} s is longer than the model's window" in r.stderr, r.stderr
