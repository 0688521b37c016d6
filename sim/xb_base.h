/* xb_base.h - the base layer every xbarsim module stands on.
 * Status codes and error messages, the configuration registry, simulation time and units.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Errors.  Every fallible call returns an xb_status (or NULL) and leaves a message
 * that names the file, line, key or dataset at fault and what was expected.  The
 * message lives on the caller's xb_err (usually embedded in a handle, read back with
 * the handle's _errmsg function); calls made with a NULL xb_err record it in a
 * thread-local fallback read by xb_errmsg(NULL).  All errors pass through
 * xb_raise(), so one breakpoint catches them all.  The library never prints and never
 * exits: only the command does.
 *
 * Configuration.  Keys are "section.key" strings registered once per process in typed
 * tables (xb_key) by each module.  An xb_config holds one value per registered key,
 * each remembering where it came from (default, preset, file:line, command line);
 * values are validated against the key's type and range when they are set, so a
 * getter never fails on a registered key.
 *
 * Time.  Simulation time is an integer count of picoseconds (xb_time_ps); there is no
 * floating-point simulation time.  Physical quantities carry their unit in their name.
 */
#ifndef XB_BASE_H
#define XB_BASE_H

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define XB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define XB_HIDDEN __attribute__((visibility("hidden")))
#else
#define XB_PRINTF(f, a)
#define XB_HIDDEN
#endif

/* ---- status codes ------------------------------------------------------------ */

typedef enum xb_status {
	XB_OK = 0,          /* success */
	XB_EINVAL = 1,      /* an argument violates the function's contract */
	XB_ENOMEM = 2,      /* memory allocation failed */
	XB_ECONFIG = 3,     /* configuration: unknown key, bad value, value out of range */
	XB_ENOENT = 4,      /* a file, preset or named object does not exist */
	XB_EIO = 5,         /* reading or writing a file failed */
	XB_EFORMAT = 6,     /* a file's content is malformed: not HDF5, wrong schema, shape, type */
	XB_ESTATE = 7,      /* the call is not allowed in the object's current state */
	XB_ERANGE = 8,      /* a data value (weight, input code, sample) lies outside its range */
	XB_ENUMERIC = 9,    /* a numerical failure: NaN or Inf, no convergence, singular system */
	XB_EUNSUPPORTED = 10, /* the feature was not built in or is not implemented for this case */
	XB_EKERNEL = 11,    /* the discrete-event kernel (SystemC) reported an error */
	XB_EINTERNAL = 12   /* an invariant of xbarsim itself broke: a bug, please report it */
} xb_status;

#define XB_ERRMSG_MAX 1024

/* An error slot: the last status and its message.  Embed one in every handle. */
typedef struct xb_err {
	xb_status code;               /* last status raised on this slot */
	char msg[XB_ERRMSG_MAX];      /* its message, "" when code == XB_OK */
} xb_err;

/* Record CODE with a printf-style message on ERR (the thread-local slot when ERR is
 * NULL) and return CODE.  The single place errors are raised. */
xb_status xb_raise(xb_err *err, xb_status code, const char *fmt, ...) XB_PRINTF(3, 4);
xb_status xb_vraise(xb_err *err, xb_status code, const char *fmt, va_list ap);
/* Prefix the message on ERR (or the thread-local slot) with "context: ". Returns its code. */
xb_status xb_err_context(xb_err *err, const char *fmt, ...) XB_PRINTF(2, 3);
/* Copy the status and message of SRC to DST (either may be NULL = thread-local). */
xb_status xb_err_copy(xb_err *dst, const xb_err *src);
/* Message of ERR, or of the calling thread's fallback slot when ERR is NULL. */
const char *xb_errmsg(const xb_err *err);
/* Clear ERR (or the thread-local slot). */
void xb_err_clear(xb_err *err);
/* Short fixed description of a status code ("configuration error", ...). */
const char *xb_strerror(xb_status code);
/* Turn off GSL's aborting error handler (idempotent); called by every entry point
 * that may reach GSL. */
void xb_gsl_quiet(void);

/* ---- time and units ---------------------------------------------------------- */

typedef uint64_t xb_time_ps;              /* simulation time, picoseconds */
#define PRI_xb_time PRIu64
#define XB_TIME_MAX UINT64_MAX

#define XB_PS_PER_NS UINT64_C(1000)
#define XB_PS_PER_US UINT64_C(1000000)
#define XB_PS_PER_MS UINT64_C(1000000000)

/* Period of one cycle of a clock of CLOCK_MHZ, rounded to the nearest picosecond
 * (125 MHz -> 8000 ps exactly).  0 for a non-positive clock. */
xb_time_ps xb_cycle_ps(double clock_mhz);
/* CYCLES cycles of a clock of CLOCK_MHZ, computed as CYCLES * xb_cycle_ps(), so that
 * sums of cycle counts convert without rounding drift. */
xb_time_ps xb_cycles_to_ps(uint64_t cycles, double clock_mhz);
/* Nearest picosecond to a time in ns / us (negative -> 0). */
xb_time_ps xb_ns_to_ps(double time_ns);
xb_time_ps xb_us_to_ps(double time_us);
/* Conversions back to floating point for reporting. */
double xb_ps_to_ns(xb_time_ps t);
double xb_ps_to_us(xb_time_ps t);

/* ---- configuration registry -------------------------------------------------- */

typedef enum xb_key_type {
	XB_KEY_INT,      /* integer in [min, max] */
	XB_KEY_DOUBLE,   /* finite real in [min, max] */
	XB_KEY_BOOL,     /* true/false, yes/no, on/off, 1/0 */
	XB_KEY_ENUM,     /* one word of choices, "a|b|c" */
	XB_KEY_STRING,   /* free text (file names) */
	XB_KEY_LIST      /* whitespace-separated list of reals, each in [min, max] */
} xb_key_type;

/* One configuration key.  Modules declare static const tables of these. */
typedef struct xb_key {
	const char *name;     /* "section.key", lower case */
	xb_key_type type;
	const char *unit;     /* unit of the value ("us", "LSB", "MHz"), "" if none */
	double min, max;      /* allowed range (INT, DOUBLE, LIST) */
	const char *choices;  /* "a|b|c" for ENUM, NULL otherwise */
	const char *def;      /* default value, as text */
	const char *help;     /* one line */
} xb_key;

/* Add a table of N keys to the process-wide registry.  Registering the same table
 * again is a no-op; a key name registered twice by different tables is XB_EINTERNAL.
 * Call from one thread at start-up, before making configurations. */
xb_status xb_config_register(const xb_key *keys, size_t n);
/* Registered key named NAME, or NULL. */
const xb_key *xb_config_key(const char *name);
/* Number of registered keys and the I-th of them in sorted order. */
size_t xb_config_nkeys(void);
const xb_key *xb_config_key_at(size_t i);
/* The registered key nearest to NAME by edit distance (for "did you mean"). */
const xb_key *xb_config_nearest(const char *name);

typedef struct xb_config xb_config;

/* A configuration holding the default of every registered key.  NULL on ENOMEM. */
xb_config *xb_config_new(void);
void xb_config_free(xb_config *cfg);
/* Deep copy.  NULL on ENOMEM. */
xb_config *xb_config_dup(const xb_config *cfg);
/* Error slot of CFG. */
const char *xb_config_errmsg(const xb_config *cfg);

/* Set KEY to VALUE (text) after validating it; ORIGIN says where it came from
 * ("file.ini:12", "-s", "preset hx") and is used in messages and in --show.  On error
 * the configuration is unchanged and the message names ORIGIN, the key, the value and
 * what is allowed (or the nearest valid key). */
xb_status xb_config_set(xb_config *cfg, const char *key, const char *value, const char *origin);
/* Parse "section.key=value" (a -s argument). */
xb_status xb_config_set_arg(xb_config *cfg, const char *arg);
/* Read an INI file into CFG; every assignment is validated as by xb_config_set with
 * ORIGIN "PATH:LINE".  The [sweep] section and keys listed in SKIP_SECTIONS
 * ("sweep|..." or NULL) are ignored.  A missing or unreadable file is XB_ENOENT/XB_EIO. */
xb_status xb_config_load(xb_config *cfg, const char *path, const char *skip_sections);
/* Find preset NAME (a file NAME.ini in $XBARSIM_PRESETS, the installed presets or the
 * source tree's devices/presets) and load it.  XB_ENOENT names the places searched. */
xb_status xb_config_load_preset(xb_config *cfg, const char *name);
/* Full path of preset NAME into BUF; XB_ENOENT if not found. */
xb_status xb_config_preset_path(const char *name, char *buf, size_t len);
/* Names of the available presets, newline-separated, malloc'd (caller frees). */
char *xb_config_preset_list(void);

/* Getters.  KEY must be registered with a matching type (a programming error
 * otherwise, caught by assert). */
long xb_config_int(const xb_config *cfg, const char *key);
double xb_config_double(const xb_config *cfg, const char *key);
int xb_config_bool(const xb_config *cfg, const char *key);
const char *xb_config_str(const xb_config *cfg, const char *key);   /* STRING, ENUM, raw text */
/* Index of the value of an ENUM key among its choices. */
int xb_config_enum(const xb_config *cfg, const char *key);
/* Values of a LIST key: count returned, array pointer in *VALUES (owned by CFG). */
size_t xb_config_list(const xb_config *cfg, const char *key, const double **values);
/* Where KEY's value came from ("default" if never set). */
const char *xb_config_origin(const xb_config *cfg, const char *key);
/* True if KEY was set explicitly (not left at its default). */
int xb_config_is_set(const xb_config *cfg, const char *key);

/* The resolved configuration as INI text, grouped by section, each line
 * "key = value" followed, when WITH_COMMENTS, by "  ; unit, origin".  malloc'd. */
char *xb_config_to_ini(const xb_config *cfg, int with_comments);

/* Register every module's key tables (sim/keys.c, the assembly layer that knows all
 * modules).  Call once before xb_config_new(); idempotent. */
void xb_register_all_keys(void);

/* Strip leading and trailing white space of S in place; returns the first non-space. */
char *xb_str_trim(char *s);

/* ---- shipped data files ------------------------------------------------------- */

/* Find a data file: NAME itself when it names an existing file, else NAME.h5 in
 * $XBARSIM_DATA/SUBDIR, $XBARSIM_DATA, the installed $pkgdatadir/SUBDIR and the source
 * tree's workloads/SUBDIR, in that order.  The path goes to BUF.  XB_ENOENT names
 * WHAT ("model", "data set"), NAME and every directory searched. */
xb_status xb_find_data(const char *what, const char *name, const char *subdir, char *buf,
		       size_t len, xb_err *err);

/* ---- report directories (sim/report_dir.c) -------------------------------------- */

/* The output directory of `xbarsim report`: everything is written into OUT_DIR.tmp.PID,
 * renamed to OUT_DIR at the end (or removed on failure), so a report is there whole
 * or not at all.  summary.md links the figures; each figure is NAME.dat (written by
 * the caller), NAME.gp and, when gnuplot runs with a PNG terminal, NAME.png. */
typedef struct xb_report_dir {
	xb_err *err;
	char tmp[4096];          /* the temporary directory ("" once removed) */
	const char *gnuplot;     /* its path, "" = none (or no PNG terminal) */
	const char *term;        /* "pngcairo" or "png" */
	FILE *md;                /* summary.md */
	int figures;             /* PNGs drawn */
} xb_report_dir;

/* XB_EIO if OUT_DIR exists already. */
xb_status xb_report_dir_vacant(const char *out_dir, xb_err *err);
/* Create the temporary directory, probe GNUPLOT (NULL: the one found by configure)
 * and open summary.md. */
xb_status xb_report_dir_begin(xb_report_dir *R, const char *out_dir, const char *gnuplot,
			      xb_err *err);
/* A line in summary.md saying why there are no figures, if gnuplot is missing. */
void xb_report_no_gnuplot_note(xb_report_dir *R);
/* Open NAME in the directory (NULL with the message on R->err) / close it, checked. */
FILE *xb_report_open(xb_report_dir *R, const char *name, const char *mode);
xb_status xb_report_close(xb_report_dir *R, FILE *f, const char *name);
/* NAME.gp (terminal and output lines, then SCRIPT) and, with gnuplot, NAME.png; the
 * figure is linked from summary.md under TITLE. */
xb_status xb_report_figure(xb_report_dir *R, const char *name, const char *title,
			   const char *script);
/* Close summary.md and rename the directory to OUT_DIR; *FIGURES = PNGs drawn (-1
 * without gnuplot).  On failure the directory is removed. */
xb_status xb_report_dir_end(xb_report_dir *R, const char *out_dir, int *figures);
/* Remove the temporary directory (after a failure). */
void xb_report_dir_abort(xb_report_dir *R);

/* ---- progress ---------------------------------------------------------------- */

/* A progress callback for long work: DONE of TOTAL units finished.  The library calls
 * it; the command prints.  Return non-zero to ask the work to stop early. */
typedef int (*xb_progress_fn)(void *ud, uint64_t done, uint64_t total);

typedef enum xb_progress_style {
	XB_PROGRESS_AUTO,   /* a bar on a terminal, nothing otherwise */
	XB_PROGRESS_BAR,    /* always a bar with rate and ETA */
	XB_PROGRESS_PLAIN,  /* one line per percent step */
	XB_PROGRESS_NONE
} xb_progress_style;

/* A progress printer writing to a stream (stderr by the command). */
typedef struct xb_progress {
	FILE *out;
	xb_progress_style style;
	const char *label;       /* "run", "train", ... */
	const char *unit;        /* "samples", "points" */
	double t_start_s;        /* wall clock at start */
	double t_last_s;         /* last time the bar was drawn */
	int last_percent;
	int active;
} xb_progress;

void xb_progress_init(xb_progress *p, FILE *out, xb_progress_style style,
		      const char *label, const char *unit);
/* Update; matches xb_progress_fn (UD is the xb_progress). Always returns 0. */
int xb_progress_update(void *ud, uint64_t done, uint64_t total);
/* Finish the bar (newline) if one was drawn. */
void xb_progress_done(xb_progress *p);
/* Parse "auto|bar|plain|none"; -1 if none matches. */
int xb_progress_parse(const char *s);
/* Monotonic wall-clock seconds. */
double xb_wall_s(void);

#ifdef __cplusplus
}
#endif
#endif /* XB_BASE_H */
