/* xb_data.h - the data sets of xbarsim: real loaders, MFCC features, a synthetic keyword corpus.
 * Data sets in memory or streamed from HDF5, WAV/IDX/CIFAR/Speech Commands readers, espeak-ng synthesis.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Data sets.  A data set is N labelled samples.  Each sample is a float tensor of shape
 * (h, w, c), channels last like xb_nn.h: element (i, j, k) at (i * w + j) * c + k.  A
 * keyword-spotting sample is (49, 10, 1) (49 frames x 10 MFCC), a Fashion-MNIST image
 * (28, 28, 1) with pixels / 255 in [0, 1], a CIFAR-10 image (32, 32, 3) likewise.  Next
 * to the label in [0, nclasses) every sample has a group (the voice or speaker that
 * produced it, -1 if unknown), a split (train, validation, test) and optionally a
 * source text (file name, or voice/variant/pitch/speed/word of a synthetic clip).
 * An xb_dataset is either in memory (features, labels... as plain arrays, for training)
 * or streamed from a file (xb_dataset_open: only the handle and the names are held, and
 * xb_dataset_read() fetches rows on demand, so memory does not grow with N).
 *
 * File (HDF5 through traces/xb_traces.h, schema "xbarsim-dataset" version 1):
 *   /features [N,h,w,c] float32 (unit "1"), or int8/int16 codes q with
 *   /feature_scale and /feature_offset [h,w,c] float32: x = offset + scale * q
 *   (affine per element, codes in [-127, 127] or [-32767, 32767]; root attribute
 *   `feature_storage` = "float32" | "int8" | "int16");
 *   /labels [N] int32, /groups [N] int32, /splits [N] uint8 (0 train, 1 valid, 2 test);
 *   /class_names [K] and /group_names [G] strings; optional /sources [N] strings;
 *   root attributes count, nclasses, sample_shape [h,w,c], and free-form text
 *   attributes (xb_dataset_set_attr: "source", "features", "generator", ...).
 * Large arrays are chunked with shuffle + gzip by the traces writer.
 *
 * MFCC (xb_mfcc, defaults in brackets).  A clip of `clip_samples` [16000] samples at
 * [16 kHz] (shorter clips are zero-padded at the end, longer ones cut) is cut into
 * frames t = 0 .. T-1 of `window_samples` [480, 30 ms] starting at t * hop [320, 20 ms],
 * T = 1 + (clip - window) / hop (floor) [49]; no padding.  Each frame is multiplied by
 * the periodic Hann window w[n] = 0.5 - 0.5 cos(2 pi n / window), zero-padded to
 * `fft_size` [512] and transformed (FFTW, single precision); the power spectrum is
 * P[k] = |X[k]|^2 (no normalisation), k = 0 .. fft/2.  Mel filter bank: M [40]
 * triangular filters with peak 1, their edges equally spaced on the HTK mel scale
 * mel(f) = 2595 log10(1 + f / 700) between f_lo [20 Hz] and f_hi [7600 Hz] (M + 2
 * edges e_0 < ... < e_M+1); filter m rises linearly in Hz from e_m to e_m+1 and falls
 * to e_m+2, evaluated at the bin frequencies f_k = k * rate / fft.  Log-mel:
 * L[m] = ln(max(sum_k H_m[k] P[k], log_floor [1e-6])).  Orthonormal DCT-II keeping C
 * [10] coefficients: c[j] = s_j sum_m L[m] cos(pi j (2m + 1) / (2M)), s_0 = sqrt(1/M),
 * s_j = sqrt(2/M).  Output [T][C], frame-major.  Input samples are floats with full
 * scale 1 (s16 / 32768).  Computed in double except the FFT; plans are made once per
 * handle with FFTW_ESTIMATE (deterministic) under a process-wide lock.
 *
 * Keyword corpus (xb_kws_generate).  Twelve classes in the order of xb_kws_class_names:
 * silence, unknown, then the ten Google Speech Commands keywords yes no up down left
 * right on off stop go.  Every combination of voice x variant x pitch x speed gives one
 * clip per class: the keyword, for `unknown` one of the 20 other Speech Commands v1
 * words (bed bird cat dog eight five four happy house marvin nine one seven sheila six
 * three tree two wow zero, drawn at random), for `silence` no speech.  Clip i, counted
 *   i = ((((voice * V + variant) * P + pitch) * S + speed) * 12 + class),
 * is made by: espeak-ng speaking the word with voice "<voice>+<variant>" at that pitch
 * (0-99) and speed (words per minute) -> 22,050 Hz s16; leading and trailing samples
 * below 1% of the peak trimmed (5 ms kept); resampled to 16 kHz (libsamplerate, sinc
 * medium quality); cut to 1 s if longer; scaled so its peak lies at a random level in
 * [peak_min, peak_max] dBFS; placed at a random offset inside the 1 s window; white or
 * pink noise added (pink with probability pink_fraction) at a random SNR in [snr_min,
 * snr_max] dB relative to the mean power of the speech segment; rounded to s16; MFCC.
 * A silence clip is noise only at an RMS level in [silence_min, silence_max] dBFS.
 * Every random choice comes from Random123's philox4x32-10 keyed by the seed and
 * counted by (clip, purpose, draw): a clip depends only on (parameters, i), never on
 * which other clips are made, in which order or by how many processes.  Generating one
 * split therefore gives exactly the rows of the full corpus that belong to it.
 * espeak-ng keeps state from one utterance to the next (pitch flutter, phase, rand())
 * and cannot be restarted in a process, so each utterance is spoken by a child process
 * forked from a parent that initialised espeak but never spoke: every clip starts from
 * the same state.  `jobs` children run at once.  Split by voice: the shipped default
 * holds out en-gb-scotland and en-us-nyc for test and en-gb-x-rp for validation; the
 * other five voices train.  Same parameters and library versions -> same bytes; across
 * CPUs the FFT and libm may differ in the last bit of a feature.
 *
 * Loaders reject what they cannot read with XB_EFORMAT naming the file and what was
 * expected (bad magic, wrong dimensions, truncated, label out of range, count mismatch),
 * XB_ENOENT for missing files.  Nothing here prints; long work reports through an
 * xb_progress_fn.  Handles are not shared between threads.
 */
#ifndef XB_DATA_H
#define XB_DATA_H

#include "xb_base.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data sets ---------------------------------------------------------------- */

#define XB_DATASET_SCHEMA "xbarsim-dataset"
#define XB_DATASET_SCHEMA_VERSION 1

/* Splits of a sample. */
typedef enum xb_split {
	XB_SPLIT_ALL = -1,     /* selector: every sample */
	XB_SPLIT_TRAIN = 0,
	XB_SPLIT_VALID = 1,
	XB_SPLIT_TEST = 2
} xb_split;

/* "train", "valid", "test" ("all" for XB_SPLIT_ALL); "?" otherwise. */
const char *xb_split_name(int split);
/* Split named NAME ("train", "valid"/"validation", "test", "all"); -2 if none. */
int xb_split_parse(const char *name);

typedef struct xb_dataset xb_dataset;

/* How features are stored in a file (xb_dataset_save). */
typedef enum xb_feature_storage {
	XB_STORE_FLOAT32 = 0,  /* exact */
	XB_STORE_INT16 = 1,    /* affine per element, 65,535 levels over each element's range */
	XB_STORE_INT8 = 2      /* affine per element, 255 levels: 4x smaller than float32 */
} xb_feature_storage;

/* A new in-memory data set of COUNT samples of shape (H, W, C) and NCLASSES classes
 * named CLASS_NAMES[0..NCLASSES-1] (copied; NULL: "0", "1", ...).  Features and labels
 * are zero, groups -1, splits train.  NULL on error (XB_EINVAL, XB_ENOMEM on ERR). */
xb_dataset *xb_dataset_new(size_t count, int h, int w, int c, int nclasses,
			   const char *const *class_names, xb_err *err);
/* Free DS (NULL is a no-op); a streamed data set closes its file. */
void xb_dataset_free(xb_dataset *ds);
/* Message of the last error on DS. */
const char *xb_dataset_errmsg(const xb_dataset *ds);

size_t xb_dataset_count(const xb_dataset *ds);
/* Sample shape. */
void xb_dataset_shape(const xb_dataset *ds, int *h, int *w, int *c);
/* Floats per sample, h * w * c. */
size_t xb_dataset_sample_size(const xb_dataset *ds);
int xb_dataset_nclasses(const xb_dataset *ds);
/* Name of class K, NULL if out of range. */
const char *xb_dataset_class_name(const xb_dataset *ds, int k);
/* Number of groups (voices, speakers) named, and the name of group G (NULL if none). */
int xb_dataset_ngroups(const xb_dataset *ds);
const char *xb_dataset_group_name(const xb_dataset *ds, int g);
/* Replace the group names by NAMES[0..N-1] (copied).  XB_ENOMEM. */
xb_status xb_dataset_set_group_names(xb_dataset *ds, int n, const char *const *names);
/* 1 if DS holds its data in memory, 0 if it streams from a file. */
int xb_dataset_in_memory(const xb_dataset *ds);

/* In-memory arrays (NULL for a streamed data set): features [N][h][w][c], labels [N],
 * groups [N], splits [N].  Writable: loaders and generators fill them. */
float *xb_dataset_features(xb_dataset *ds);
int32_t *xb_dataset_labels(xb_dataset *ds);
int32_t *xb_dataset_groups(xb_dataset *ds);
uint8_t *xb_dataset_splits(xb_dataset *ds);
/* Per-sample source text of sample I (NULL if none) and setter (copied; NULL clears). */
const char *xb_dataset_source(const xb_dataset *ds, size_t i);
xb_status xb_dataset_set_source(xb_dataset *ds, size_t i, const char *text);

/* Free-form text attributes saved with the file (NAME: letters, digits, '_').  Get
 * returns NULL if not set. */
xb_status xb_dataset_set_attr(xb_dataset *ds, const char *name, const char *value);
const char *xb_dataset_attr(const xb_dataset *ds, const char *name);

/* Copy samples FIRST .. FIRST+COUNT-1 into X (COUNT * sample_size floats) and their
 * labels into LABELS; either may be NULL.  Works the same in memory and streamed (a
 * streamed read touches only those rows).  XB_ERANGE if the rows are not all there,
 * XB_EIO/XB_EFORMAT if the file fails.  Message on DS. */
xb_status xb_dataset_read(xb_dataset *ds, size_t first, size_t count, float *x,
			  int32_t *labels);
/* The same for groups and splits (either may be NULL). */
xb_status xb_dataset_read_meta(xb_dataset *ds, size_t first, size_t count, int32_t *groups,
			       uint8_t *splits);
/* Samples of each class: COUNTS[nclasses] (of split SPLIT, or XB_SPLIT_ALL). */
xb_status xb_dataset_class_counts(xb_dataset *ds, int split, size_t *counts);

/* A new in-memory data set with the samples of DS whose split is SPLIT (every sample
 * for XB_SPLIT_ALL), in order, with names, attributes and sources.  NULL on error
 * (message on ERR). */
xb_dataset *xb_dataset_select(xb_dataset *ds, int split, xb_err *err);

/* Write DS to PATH (schema above; crash-safe: PATH is replaced only when complete).
 * CONFIG_INI and COMMAND_LINE go to the root attributes (NULL -> "").  Errors on ERR. */
xb_status xb_dataset_save(xb_dataset *ds, const char *path, xb_feature_storage storage,
			  const char *config_ini, const char *command_line, xb_err *err);
/* Open PATH for streaming: checks schema, shapes and types of every dataset, keeps
 * the file open and holds only names and attributes.  NULL on error (ERR). */
xb_dataset *xb_dataset_open(const char *path, xb_err *err);
/* Read PATH into memory, only the samples of split SPLIT (XB_SPLIT_ALL: all).  Labels
 * outside [0, nclasses) and splits outside 0..2 are XB_EFORMAT naming the sample. */
xb_dataset *xb_dataset_load(const char *path, int split, xb_err *err);

/* Resolve a data set NAME to a file: NAME itself if it names an existing file, else
 * NAME.h5 in $XBARSIM_DATA, the installed data directory and the source tree's
 * workloads/data.  XB_ENOENT names the places searched. */
xb_status xb_data_path(const char *name, char *buf, size_t len, xb_err *err);

/* The data set of workload.data NAME: "fashion-mnist" is Debian's Fashion-MNIST, its
 * 10,000 test images (in memory); any other NAME a file found by xb_data_path, with
 * SPLIT XB_SPLIT_ALL opened for streaming (xb_dataset_open), else the samples of SPLIT
 * read into memory, or every sample when the file has none of that split.  PATH (LEN
 * bytes) receives the file's path, or NAME.  NULL on error (ERR names the key). */
xb_dataset *xb_data_open_named(const char *name, int split, char *path, size_t len,
			       xb_err *err);

/* ---- image loaders ------------------------------------------------------------ */

/* IDX pair (MNIST format, optionally gzip'd: read through zlib): IMAGES of magic
 * 0x00000803 [N][h][w] uint8, LABELS of magic 0x00000801 [N] uint8 with values below
 * NCLASSES.  Samples (h, w, 1), pixels / 255, split SPLIT for every sample, classes
 * named CLASS_NAMES (NULL: "0".."9").  NULL on error (ERR). */
xb_dataset *xb_data_load_idx(const char *images, const char *labels, int nclasses,
			     const char *const *class_names, int split, xb_err *err);
/* Fashion-MNIST from DIR (NULL: /usr/share/datasets/fashion-mnist) : SPLIT
 * XB_SPLIT_TRAIN reads train-*-ubyte.gz (60,000), XB_SPLIT_TEST t10k-*-ubyte.gz
 * (10,000), XB_SPLIT_ALL both (train first).  Classes T-shirt/top ... Ankle boot. */
xb_dataset *xb_data_load_fashion_mnist(const char *dir, int split, xb_err *err);
/* Class names of Fashion-MNIST (10). */
extern const char *const xb_fashion_mnist_class_names[10];

/* CIFAR-10 binary files FILES[0..NFILES-1] (records of 1 label byte + 3072 pixel bytes,
 * planes R, G, B of 32 x 32), samples (32, 32, 3) channels last, pixels / 255, split
 * SPLIT.  A size that is not a whole number of records is XB_EFORMAT. */
xb_dataset *xb_data_load_cifar10(const char *const *files, size_t nfiles, int split,
				 xb_err *err);
/* CIFAR-10 from the cifar-10-batches-bin directory DIR: data_batch_1..5.bin (train),
 * test_batch.bin (test), or both (XB_SPLIT_ALL). */
xb_dataset *xb_data_load_cifar10_dir(const char *dir, int split, xb_err *err);
extern const char *const xb_cifar10_class_names[10];

/* ---- WAV files ---------------------------------------------------------------- */

/* A PCM clip: interleaved s16 samples. */
typedef struct xb_wav {
	int rate_hz;          /* samples per second per channel */
	int channels;
	size_t frames;        /* samples per channel */
	int16_t *samples;     /* frames * channels, malloc'd (owned) */
} xb_wav;

/* Read RIFF/WAVE file PATH: 16-bit integer PCM (format 1, or WAVE_FORMAT_EXTENSIBLE
 * with the PCM sub-format), any rate and channel count; unknown chunks are skipped.
 * XB_EFORMAT names the file and the fault (not RIFF/WAVE, no fmt or data chunk, not
 * 16-bit PCM, inconsistent block align, truncated).  On success fills WAV (free with
 * xb_wav_reset); on error WAV is zeroed. */
xb_status xb_wav_read(const char *path, xb_wav *wav, xb_err *err);
/* The same from LEN bytes at BUF; NAME is used in messages. */
xb_status xb_wav_parse(const void *buf, size_t len, const char *name, xb_wav *wav,
		       xb_err *err);
/* Write FRAMES x CHANNELS s16 SAMPLES as a canonical 44-byte-header WAV file. */
xb_status xb_wav_write(const char *path, const int16_t *samples, size_t frames,
		       int channels, int rate_hz, xb_err *err);
/* Free the samples and zero WAV. */
void xb_wav_reset(xb_wav *wav);

/* ---- MFCC --------------------------------------------------------------------- */

/* Parameters of the features (see the design comment). */
typedef struct xb_mfcc_params {
	int rate_hz;          /* sample rate (16000) */
	int clip_samples;     /* samples per clip (16000) */
	int window_samples;   /* frame length (480) */
	int hop_samples;      /* frame step (320) */
	int fft_size;         /* FFT length >= window (512) */
	int mel_bands;        /* triangular filters (40) */
	double f_lo_hz;       /* lowest filter edge (20) */
	double f_hi_hz;       /* highest filter edge, <= rate / 2 (7600) */
	int coeffs;           /* DCT coefficients kept, <= mel_bands (10) */
	double log_floor;     /* smallest mel energy before the log (1e-6) */
} xb_mfcc_params;

xb_mfcc_params xb_mfcc_default_params(void);

typedef struct xb_mfcc xb_mfcc;

/* Filter bank, window and FFT plan for P (NULL: defaults).  NULL on error (XB_EINVAL
 * naming the bad parameter, XB_ENOMEM) with the message on ERR.  Thread-safe. */
xb_mfcc *xb_mfcc_new(const xb_mfcc_params *p, xb_err *err);
void xb_mfcc_free(xb_mfcc *m);
/* Frames T and coefficients C of the output. */
int xb_mfcc_frames(const xb_mfcc *m);
int xb_mfcc_coeffs(const xb_mfcc *m);
/* Parameters of M. */
const xb_mfcc_params *xb_mfcc_params_of(const xb_mfcc *m);
/* Features of the clip PCM[0..N-1] (full scale 1) into OUT[T][C].  Not for two threads
 * at once on one handle (one handle per thread). */
void xb_mfcc_compute(xb_mfcc *m, const float *pcm, size_t n, float *out);
/* The same from s16 samples (divided by 32768). */
void xb_mfcc_compute_s16(xb_mfcc *m, const int16_t *pcm, size_t n, float *out);
/* The log-mel energies L[T][M] before the DCT (for tests and plots). */
void xb_mfcc_logmel(xb_mfcc *m, const float *pcm, size_t n, float *out);
/* Centre frequency (Hz) of mel filter B (its peak, edge e_B+1). */
double xb_mfcc_band_hz(const xb_mfcc *m, int band);

/* ---- keyword spotting --------------------------------------------------------- */

#define XB_KWS_CLASSES 12
/* silence, unknown, yes, no, up, down, left, right, on, off, stop, go */
extern const char *const xb_kws_class_names[XB_KWS_CLASSES];

/* Parameters of the synthetic corpus.  Lists are space-separated words. */
typedef struct xb_kws_params {
	uint64_t seed;              /* key of every random choice (1) */
	const char *voices;         /* espeak-ng voices (the 8 English ones) */
	const char *variants;       /* voice variants (16: m1-m7 f1-f5 klatt klatt4 whisper croak) */
	const char *pitches;        /* base pitches 0-99 ("30 50 70") */
	const char *speeds_wpm;     /* speaking rates, words per minute ("140 190") */
	const char *test_voices;    /* voices held out for test ("en-gb-scotland en-us-nyc") */
	const char *valid_voices;   /* voices held out for validation ("en-gb-x-rp") */
	const char *unknown_words;  /* words of class unknown (the 20 other GSC v1 words) */
	double snr_min_db, snr_max_db;         /* speech-to-noise ratio (5, 30) */
	double peak_min_dbfs, peak_max_dbfs;   /* speech peak level (-24, -1) */
	double silence_min_dbfs, silence_max_dbfs; /* RMS of silence clips (-50, -15) */
	double pink_fraction;       /* probability of pink rather than white noise (0.5) */
	unsigned splits;            /* splits to make: bit 1 << XB_SPLIT_* (all: 7) */
	int jobs;                   /* espeak processes at once (2) */
	int keep_sources;           /* record "voice+variant/pPITCH/sSPEED/word" per clip (1) */
	xb_progress_fn progress;    /* called after each clip (NULL: none) */
	void *progress_ud;
} xb_kws_params;

xb_kws_params xb_kws_default_params(void);

/* Number of clips of the full corpus for P (all splits), and of those in P->splits. */
xb_status xb_kws_count(const xb_kws_params *p, size_t *total, size_t *selected, xb_err *err);

/* One clip of the corpus: the 1 s of s16 audio at 16 kHz (OUT[16000]) of clip INDEX of
 * the full corpus, and its label, group (voice index) and split (any may be NULL). */
xb_status xb_kws_clip(const xb_kws_params *p, size_t index, int16_t *out, int32_t *label,
		      int32_t *group, uint8_t *split, xb_err *err);

/* Generate the corpus: the clips of the splits in P->splits, in clip order, as MFCC
 * features (MFCC NULL: defaults) in a new in-memory data set with groups = voice index
 * (group names = voices), splits, sources and attributes "source", "features" and
 * "generator" (the parameters as text, enough to regenerate).  If AUDIO is not NULL it
 * receives a malloc'd array of count * 16000 s16 samples (the clips).  A progress
 * callback returning non-zero stops the work: XB_ESTATE.  Errors (bad parameters
 * XB_EINVAL, unknown voice XB_ENOENT, espeak failures XB_EIO) on ERR. */
xb_status xb_kws_generate(const xb_kws_params *p, const xb_mfcc_params *mfcc,
			  xb_dataset **out, int16_t **audio, xb_err *err);

/* The parameters P as INI-like text "key = value" lines (malloc'd; NULL on ENOMEM). */
char *xb_kws_params_text(const xb_kws_params *p);

/* ---- Google Speech Commands --------------------------------------------------- */

/* Options of the Speech Commands loader. */
typedef struct xb_gsc_params {
	uint64_t seed;              /* choice of unknown clips and silence slices (1) */
	double unknown_fraction;    /* unknown clips per keyword clip of a split (0.1; <0: all) */
	double silence_fraction;    /* silence clips per keyword clip of a split (0.1) */
	xb_progress_fn progress;    /* called per file read (NULL: none) */
	void *progress_ud;
} xb_gsc_params;

xb_gsc_params xb_gsc_default_params(void);

/* Load a Google Speech Commands v0.02 directory DIR (one folder of 16 kHz mono WAV
 * files per word, validation_list.txt, testing_list.txt, _background_noise_) as the
 * 12 classes of xb_kws_class_names and MFCC features (MFCC NULL: defaults).  Files in
 * the lists belong to validation and test, the rest to train; SPLIT selects one split
 * or XB_SPLIT_ALL.  Per split, the unknown clips are a random unknown_fraction of the
 * keyword count (all of them if negative) and silence clips (a random 1 s slice of a
 * random background file times a random gain in [0, 1); zeros if there are none) are
 * silence_fraction of it.  Clips shorter than 1 s are zero-padded, longer ones cut.
 * Groups are speakers (the file name before "_nohash_"), sources the relative paths.
 * NULL on error (ERR): a WAV that is not 16 kHz mono is XB_EFORMAT naming it. */
xb_dataset *xb_data_load_gsc(const char *dir, int split, const xb_gsc_params *p,
			     const xb_mfcc_params *mfcc, xb_err *err);

#ifdef __cplusplus
}
#endif
#endif /* XB_DATA_H */
