// FFmpeg, Chromaprint and libsoxr, loaded when a command first needs them (dlopen), not when the
// program starts. They bring ~134 of the ~154 shared objects a start of the CLI maps and
// relocates (libavformat's own dependencies: codecs, libjxl, libhwy...), half of a start's CPU;
// most commands (search, status, playlists, --help) never decode. Only src/audio calls them, and
// only through functions(): the executable does not link them (its DT_NEEDED names none), so a
// call made by name does not link. The Debian package still depends on them (cmake/install.cmake).
#pragma once
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}
#include <chromaprint.h>
#include <soxr.h>

#include <string>
#include <utility>

// Every function audio/ calls, with the library that defines it (a name of Library below). A
// function missing here fails the link, as the libraries are not linked.
#define CLAP_MEDIA_FUNCTIONS(X) \
  X(avcodec, av_new_packet) \
  X(avcodec, av_packet_alloc) \
  X(avcodec, av_packet_clone) \
  X(avcodec, av_packet_free) \
  X(avcodec, av_packet_get_side_data) \
  X(avcodec, av_packet_rescale_ts) \
  X(avcodec, av_packet_unref) \
  X(avcodec, avcodec_alloc_context3) \
  X(avcodec, avcodec_descriptor_get) \
  X(avcodec, avcodec_find_decoder) \
  X(avcodec, avcodec_find_encoder) \
  X(avcodec, avcodec_find_encoder_by_name) \
  X(avcodec, avcodec_flush_buffers) \
  X(avcodec, avcodec_free_context) \
  X(avcodec, avcodec_get_name) \
  X(avcodec, avcodec_open2) \
  X(avcodec, avcodec_parameters_from_context) \
  X(avcodec, avcodec_parameters_to_context) \
  X(avcodec, avcodec_receive_frame) \
  X(avcodec, avcodec_receive_packet) \
  X(avcodec, avcodec_send_frame) \
  X(avcodec, avcodec_send_packet) \
  X(avcodec, avcodec_version) \
  X(avformat, av_find_best_stream) \
  X(avformat, av_interleaved_write_frame) \
  X(avformat, av_read_frame) \
  X(avformat, av_seek_frame) \
  X(avformat, av_write_trailer) \
  X(avformat, avformat_alloc_context) \
  X(avformat, avformat_alloc_output_context2) \
  X(avformat, avformat_close_input) \
  X(avformat, avformat_find_stream_info) \
  X(avformat, avformat_free_context) \
  X(avformat, avformat_new_stream) \
  X(avformat, avformat_open_input) \
  X(avformat, avformat_version) \
  X(avformat, avformat_write_header) \
  X(avformat, avio_alloc_context) \
  X(avformat, avio_context_free) \
  X(avformat, avio_feof) \
  X(avformat, avio_flush) \
  X(avutil, av_audio_fifo_alloc) \
  X(avutil, av_audio_fifo_free) \
  X(avutil, av_audio_fifo_read) \
  X(avutil, av_audio_fifo_size) \
  X(avutil, av_audio_fifo_write) \
  X(avutil, av_channel_layout_compare) \
  X(avutil, av_channel_layout_copy) \
  X(avutil, av_channel_layout_default) \
  X(avutil, av_channel_layout_uninit) \
  X(avutil, av_dict_free) \
  X(avutil, av_dict_get) \
  X(avutil, av_dict_set) \
  X(avutil, av_frame_alloc) \
  X(avutil, av_frame_free) \
  X(avutil, av_frame_get_buffer) \
  X(avutil, av_frame_unref) \
  X(avutil, av_free) \
  X(avutil, av_freep) \
  X(avutil, av_get_bytes_per_sample) \
  X(avutil, av_get_packed_sample_fmt) \
  X(avutil, av_get_sample_fmt_name) \
  X(avutil, av_log_set_callback) \
  X(avutil, av_log_set_level) \
  X(avutil, av_malloc) \
  X(avutil, av_max_alloc) \
  X(avutil, av_rescale_q) \
  X(avutil, av_rescale_q_rnd) \
  X(avutil, av_sample_fmt_is_planar) \
  X(avutil, av_samples_alloc_array_and_samples) \
  X(avutil, av_samples_set_silence) \
  X(avutil, av_strerror) \
  X(avutil, av_version_info) \
  X(avutil, avutil_version) \
  X(chromaprint, chromaprint_dealloc) \
  X(chromaprint, chromaprint_feed) \
  X(chromaprint, chromaprint_finish) \
  X(chromaprint, chromaprint_free) \
  X(chromaprint, chromaprint_get_item_duration) \
  X(chromaprint, chromaprint_get_raw_fingerprint) \
  X(chromaprint, chromaprint_get_sample_rate) \
  X(chromaprint, chromaprint_new) \
  X(chromaprint, chromaprint_start) \
  X(soxr, soxr_clear) \
  X(soxr, soxr_create) \
  X(soxr, soxr_delete) \
  X(soxr, soxr_io_spec) \
  X(soxr, soxr_process) \
  X(soxr, soxr_quality_spec) \
  X(soxr, soxr_runtime_spec) \
  X(soxr, soxr_version) \
  X(swresample, swr_alloc_set_opts2) \
  X(swresample, swr_convert) \
  X(swresample, swr_free) \
  X(swresample, swr_get_out_samples) \
  X(swresample, swr_init) \
  X(swresample, swresample_version) \
  X(swscale, sws_freeContext) \
  X(swscale, sws_getContext) \
  X(swscale, sws_scale)

namespace clap::audio::media {

// The libraries, by the sonames the headers above were compiled for.
#define CLAP_MEDIA_LIBRARIES(X) X(avformat) X(avcodec) X(avutil) X(swresample) X(swscale) X(chromaprint) X(soxr)

// The functions, each typed as its header declares it.
struct Functions {
#define CLAP_MEDIA_MEMBER(library, name) decltype(&::name) name = nullptr;
  CLAP_MEDIA_FUNCTIONS(CLAP_MEDIA_MEMBER)
#undef CLAP_MEDIA_MEMBER
};

// Loads the libraries and finds every function the first time it is called (once, thread-safe);
// throws Error naming the library or function missing (and the loader's reason), again at each
// later call.
const Functions& functions();

// The table when the libraries are loaded, else nullptr; never loads them.
const Functions* loaded();

// The soname of one of the libraries ("libavformat.so.59"), as loaded.
std::string soname(const char* library);

// The steps of functions(), for its tests: a library by soname, and a function in it.
void* open_library(const std::string& soname);
void* find_function(void* library, const std::string& soname, const char* name);

}  // namespace clap::audio::media

// A call of FFmpeg, Chromaprint or libsoxr: CLAP_MEDIA(av_frame_alloc)().
#define CLAP_MEDIA(name) (::clap::audio::media::functions().name)

// A call that frees or resets one of their objects (av_frame_free, avformat_close_input...):
// nothing when the libraries are not loaded, as then no object of theirs exists. Destructors
// make these calls, also after a failed load (a holder whose opening threw), and must not load
// the libraries or throw (that would end the program).
#define CLAP_MEDIA_RELEASE(name)                                         \
  ([](auto&&... a) {                                                     \
    if (const auto* f = ::clap::audio::media::loaded()) f->name(std::forward<decltype(a)>(a)...); \
  })
