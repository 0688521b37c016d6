/* xb_traces.h - the HDF5 files of xbarsim: a crash-safe writer, a validating reader, describe.
 * Traces, measurements, calibrations, models and sweeps are all written and read through it.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Files.  Every persistent file of xbarsim is HDF5 in the library's default (oldest)
 * file format, so h5py, HDFView, h5dump and MATLAB read it, and it is self-describing:
 *   - the root group carries `schema` (string, "xbarsim-trace", "xbarsim-measurement",
 *     ...), `schema_version` (int64, >= 1), `xbarsim_version` (PACKAGE_VERSION),
 *     `config` (the resolved configuration as INI text) and `command_line`;
 *   - every group carries `schema` and `schema_version`;
 *   - every dataset carries a `unit` string attribute ("1" for dimensionless counts and
 *     indices, "LSB", "ns", "pJ", ...).
 * The writer enforces these invariants: the root attributes are written when a file is
 * created, xb_h5w_group() always writes the group's schema, and no dataset can be
 * created without a unit.  Files hold no timestamps: the same calls write byte-identical
 * files.
 *
 * Writing is crash-safe.  xb_h5w_create() writes to a temporary file in the target's
 * directory, ".<name>.tmp.<pid>.<random>", and xb_h5w_commit() flushes it, fsyncs it and
 * rename()s it over the target in one atomic step.  Freeing an uncommitted writer
 * removes the temporary file.  So the target path holds either its old content or the
 * complete new file, never a half-written one; a crash (SIGKILL, power loss) can leave
 * only a stale temporary file behind, which may be deleted.
 * Long runs that must show progress (sweeps) call xb_h5w_publish() once the file's
 * structure exists: the (valid) temporary file is renamed into place at that moment and
 * writing continues in place; after every xb_h5w_flush() the file on disk is complete
 * and readable.  xb_h5w_open_append() reopens a published file in place to add rows
 * (--resume).  In place, a crash between flushes loses the rows written since the last
 * flush; a crash in the middle of a flush can damage the file (HDF5 1.10 has no
 * journal), so flush after each unit of work, not inside it.
 *
 * Storage.  A whole array of 256 KiB or more is stored chunked with the shuffle and
 * deflate (gzip level 4) filters, smaller ones contiguously.  An extendible dataset has
 * shape [*, d1, d2, ...]: rows of a fixed shape are appended while a run goes on; it is
 * chunked (about 64 KiB per chunk) with shuffle + deflate (strings: 4 KiB chunks, no
 * filter, as only their heap references would be compressed).  Rows beyond the written ones
 * read as the fill value: NaN for floats, 0 for integers, "" for strings.
 *
 * Types.  xb_h5_type names the element type in memory and in the file (little-endian
 * in the file).  Strings are variable-length UTF-8; in memory an array of strings is an
 * array of `const char *` (NULL entries are written as "").  Attributes are scalar
 * int64, float64 and strings, and 1-D arrays of int64 and float64 (at most 8,000 values:
 * HDF5's default format keeps attributes in the 64 KiB object header; put more in a
 * dataset).
 *
 * Reading validates.  xb_h5r_open() names the file in every error: missing is
 * XB_ENOENT, not HDF5, truncated or damaged is XB_EFORMAT.  A dataset is read with the
 * memory type, rank and dimensions (-1 = any) the caller expects; a mismatch is
 * XB_EFORMAT with a message such as
 *   "measured.h5: dataset /codes: expected 3-D int16 [*,*,256], found 2-D float64 [10,256]".
 * Conversion rules (HDF5 converts, this layer refuses the lossy cases): integers read
 * as any integer type, a value outside the requested type's range being XB_ERANGE with
 * its index; integers and floats read as floats (float64 values beyond float32's range
 * are XB_ERANGE); floats never read as integers; strings (fixed or variable length,
 * any padding) only as strings.  With XB_H5_FINITE a NaN or Inf in a float read is
 * XB_ENUMERIC naming the dataset and the index of the first bad element.  Scalar
 * attributes read as int64 from any integer type, or from a float holding an exact
 * integer (MATLAB writes numbers as double); as double from any number.
 * Missing datasets, groups and attributes are XB_ENOENT naming the file and path.
 *
 * Errors and output.  Every call returns an xb_status (or NULL) and leaves its message
 * on the handle (xb_h5w_errmsg, xb_h5r_errmsg) or, for constructors, on the xb_err
 * given (NULL = the thread-local slot).  HDF5's own error printing is switched off; the
 * innermost HDF5 error description is appended to messages in parentheses.  Nothing is
 * printed, except by xb_h5_describe() to the stream its caller passes.
 *
 * Threads.  A handle must not be used by two threads at once.  HDF5 is built
 * thread-safe on Debian and serialises calls on different handles.
 */
#ifndef XB_TRACES_H
#define XB_TRACES_H

#include "xb_base.h"

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest rank of a dataset (HDF5's limit). */
#define XB_H5_MAXRANK 32

/* Element types, in memory and in the file. */
typedef enum xb_h5_type {
	XB_H5_NOTYPE = -1,  /* a stored type without an equivalent here (compound, enum...) */
	XB_H5_INT8 = 0,
	XB_H5_UINT8,
	XB_H5_INT16,
	XB_H5_UINT16,
	XB_H5_INT32,
	XB_H5_UINT32,
	XB_H5_INT64,
	XB_H5_UINT64,
	XB_H5_FLOAT32,
	XB_H5_FLOAT64,
	XB_H5_STRING,       /* UTF-8 text; memory: const char * per element */
	XB_H5_NTYPES
} xb_h5_type;

/* "int8" ... "float64", "string"; "?" for anything else. */
const char *xb_h5_type_name(xb_h5_type type);
/* Bytes of one element in memory (sizeof(char *) for strings); 0 if invalid. */
size_t xb_h5_type_size(xb_h5_type type);

/* ---- writer ------------------------------------------------------------------- */

typedef struct xb_h5w xb_h5w;

/* Start writing a new file that will replace PATH on commit.  Writes the root attributes
 * schema = SCHEMA, schema_version = SCHEMA_VERSION (>= 1), xbarsim_version,
 * config = CONFIG_INI and command_line = COMMAND_LINE (NULL -> "").  The data goes to a
 * temporary file next to PATH; PATH itself is untouched until xb_h5w_commit() or
 * xb_h5w_publish().  On error returns NULL with the message on ERR: XB_ENOENT if PATH's
 * directory does not exist, XB_EIO if it is not writable, XB_EINVAL for bad arguments. */
xb_h5w *xb_h5w_create(const char *path, const char *schema, int64_t schema_version,
		      const char *config_ini, const char *command_line, xb_err *err);

/* Reopen the existing xbarsim file PATH read-write, in place, to add rows (sweep
 * --resume).  There is no temporary file: every change goes to PATH and the file is
 * consistent after each xb_h5w_flush().  The root attributes are kept (rewrite
 * command_line if wanted); groups created without a schema take the root's.  Existing
 * extendible datasets take rows through xb_h5w_append/_write_rows with the type of
 * their file type and their stored row shape.  Commit flushes, fsyncs and closes; free
 * without commit closes and keeps everything written.  Errors: XB_ENOENT (missing),
 * XB_EFORMAT (not HDF5, damaged, or no root `schema` attribute), XB_EIO. */
xb_h5w *xb_h5w_open_append(const char *path, xb_err *err);

/* Create group PATH (its parent must exist; "/layers/0" needs "/layers") with the
 * attributes schema = SCHEMA and schema_version = VERSION; SCHEMA NULL takes the root's
 * schema and version.  XB_ENOENT if the parent is missing, XB_EINVAL if PATH exists. */
xb_status xb_h5w_group(xb_h5w *w, const char *path, const char *schema, int64_t version);

/* Set attribute NAME of the group or dataset OBJ ("/" is the root), replacing any
 * attribute of that name.  XB_ENOENT if OBJ does not exist. */
xb_status xb_h5w_attr_str(xb_h5w *w, const char *obj, const char *name, const char *value);
xb_status xb_h5w_attr_int(xb_h5w *w, const char *obj, const char *name, int64_t value);
xb_status xb_h5w_attr_double(xb_h5w *w, const char *obj, const char *name, double value);
/* 1-D arrays of N values (N may be 0; at most 8,000). */
xb_status xb_h5w_attr_ints(xb_h5w *w, const char *obj, const char *name,
			   const int64_t *values, size_t n);
xb_status xb_h5w_attr_doubles(xb_h5w *w, const char *obj, const char *name,
			      const double *values, size_t n);

/* Write the whole dataset PATH of RANK (0 = scalar; DIMS may then be NULL) and DIMS from
 * DATA (row-major, TYPE elements; for XB_H5_STRING an array of const char *), with
 * attribute unit = UNIT (required: "1" for dimensionless).  The parent group must exist;
 * XB_EINVAL if PATH exists, UNIT is NULL or empty, or a dimension is negative. */
xb_status xb_h5w_write(xb_h5w *w, const char *path, xb_h5_type type, int rank,
		       const int64_t *dims, const void *data, const char *unit);

/* Create the empty extendible dataset PATH of shape [0, ROW_DIMS...] (ROW_RANK may be 0
 * for a 1-D series of scalars), with unit UNIT, to take rows later. */
xb_status xb_h5w_extendible(xb_h5w *w, const char *path, xb_h5_type type, int row_rank,
			    const int64_t *row_dims, const char *unit);
/* Append NROWS rows from ROWS (NROWS * prod(ROW_DIMS) elements of the dataset's type)
 * to the extendible dataset PATH.  XB_EINVAL if PATH is not extendible. */
xb_status xb_h5w_append(xb_h5w *w, const char *path, const void *rows, size_t nrows);
/* Write NROWS rows from ROWS at rows ROW0.. of PATH, growing it as needed (rows skipped
 * over hold the fill value); rows already there are overwritten. */
xb_status xb_h5w_write_rows(xb_h5w *w, const char *path, int64_t row0, const void *rows,
			    size_t nrows);
/* Current number of rows of the extendible dataset PATH. */
xb_status xb_h5w_nrows(xb_h5w *w, const char *path, int64_t *nrows);
/* Set the number of rows of PATH to NROWS: shrinking drops the rows beyond (--resume
 * cuts a partly written point), growing adds fill values. */
xb_status xb_h5w_resize(xb_h5w *w, const char *path, int64_t nrows);

/* Write everything buffered to the file (H5Fflush): afterwards the file on disk is
 * complete.  Not fsync'd: survives a crash of the process, not of the machine. */
xb_status xb_h5w_flush(xb_h5w *w);
/* Move the temporary file into place now and keep writing there (see the design
 * comment).  The file is flushed first, so PATH is valid from this moment on.  A no-op
 * on a file already in place. */
xb_status xb_h5w_publish(xb_h5w *w);
/* Finish the file: flush, close, fsync, and (if not yet in place) rename it over PATH.
 * On error the temporary file is removed and PATH keeps its old content (XB_EIO).
 * Afterwards only xb_h5w_errmsg/_path/_free may be called (others: XB_ESTATE). */
xb_status xb_h5w_commit(xb_h5w *w);
/* Free the writer.  Without a successful commit: a temporary file is closed and
 * removed (abort); a file in place is closed and kept as written.  NULL is a no-op. */
void xb_h5w_free(xb_h5w *w);

const char *xb_h5w_errmsg(const xb_h5w *w);
/* The target path given at creation. */
const char *xb_h5w_path(const xb_h5w *w);

/* ---- reader ------------------------------------------------------------------- */

typedef struct xb_h5r xb_h5r;

/* Read flags. */
#define XB_H5_FINITE 1u   /* a NaN or Inf in a float read is XB_ENUMERIC */

/* Open PATH read-only after checking it: XB_ENOENT if it does not exist, XB_EIO if it
 * cannot be read or is a directory, XB_EFORMAT if it is not HDF5 or is truncated or
 * damaged.  Messages name PATH.  NULL on error, message on ERR. */
xb_h5r *xb_h5r_open(const char *path, xb_err *err);
void xb_h5r_free(xb_h5r *r);
const char *xb_h5r_errmsg(const xb_h5r *r);
const char *xb_h5r_path(const xb_h5r *r);

/* 1 if PATH names a group or dataset (all links along it existing), 0 if not. */
int xb_h5r_exists(xb_h5r *r, const char *path);
/* 1 if object OBJ exists and has attribute NAME, 0 if not. */
int xb_h5r_has_attr(xb_h5r *r, const char *obj, const char *name);

/* Check that group OBJ (NULL = root) has schema == SCHEMA and 1 <= schema_version <=
 * MAX_VERSION; the version found goes to *VERSION (may be NULL).  XB_EFORMAT otherwise:
 * "f.h5: /: expected schema xbarsim-measurement version <= 1, found xbarsim-trace
 * version 1" (or "found no schema attribute"). */
xb_status xb_h5r_schema(xb_h5r *r, const char *obj, const char *schema, int64_t max_version,
			int64_t *version);

/* Read the whole dataset PATH into a new buffer *DATA of TYPE elements (row-major; free
 * with free(); for XB_H5_STRING a char ** whose strings live in the same block, so one
 * free() releases all).  RANK is the rank expected (-1 = any); DIMS, if not NULL, RANK
 * expected dimensions (-1 = any).  DIMS_OUT, if not NULL, receives the dataset's
 * dimensions (XB_H5_MAXRANK entries; the rank is the expected one, or use
 * xb_h5r_info).  FLAGS: XB_H5_FINITE.  Errors as in the design comment; *DATA is NULL
 * on error. */
xb_status xb_h5r_read(xb_h5r *r, const char *path, xb_h5_type type, int rank,
		      const int64_t *dims, unsigned flags, void **data, int64_t *dims_out);
/* Read rows ROW0 .. ROW0+NROWS-1 of the numeric dataset PATH (rank >= 1) into BUF,
 * which holds NROWS * (elements per row) TYPE elements.  XB_ERANGE if the rows are not
 * all there; conversions and FLAGS as for xb_h5r_read. */
xb_status xb_h5r_read_rows(xb_h5r *r, const char *path, xb_h5_type type, int64_t row0,
			   int64_t nrows, unsigned flags, void *buf);

/* Scalar attributes (a 1-element array is accepted too).  *VALUE of attr_str is
 * malloc'd (caller frees). */
xb_status xb_h5r_attr_str(xb_h5r *r, const char *obj, const char *name, char **value);
xb_status xb_h5r_attr_int(xb_h5r *r, const char *obj, const char *name, int64_t *value);
xb_status xb_h5r_attr_double(xb_h5r *r, const char *obj, const char *name, double *value);
/* Numeric attributes of any shape, flattened: *VALUES malloc'd, count in *N. */
xb_status xb_h5r_attr_ints(xb_h5r *r, const char *obj, const char *name, int64_t **values,
			   size_t *n);
xb_status xb_h5r_attr_doubles(xb_h5r *r, const char *obj, const char *name, double **values,
			      size_t *n);

/* What an object or attribute holds. */
typedef enum xb_h5_kind {
	XB_H5_GROUP,
	XB_H5_DATASET,
	XB_H5_ATTRIBUTE,
	XB_H5_OTHER        /* a named datatype, or anything else */
} xb_h5_kind;

typedef struct xb_h5_info {
	xb_h5_kind kind;
	uint64_t object_id;       /* groups, datasets: the same for every path to one object */
	unsigned links;           /* groups, datasets: hard links to it (> 1: several paths) */
	xb_h5_type type;          /* datasets, attributes: stored type, XB_H5_NOTYPE if none */
	char type_name[32];       /* "int16", "float64", "string", "compound", "enum", ... */
	int rank;                 /* 0 for a scalar (and for an empty, null dataspace) */
	int64_t nelems;           /* elements: 1 for a scalar, 0 for a null dataspace */
	int64_t dims[XB_H5_MAXRANK];
	int64_t maxdims[XB_H5_MAXRANK];   /* -1: unlimited */
	int chunked;              /* datasets: storage is chunked ... */
	int64_t chunk[XB_H5_MAXRANK];     /* ... with these chunk dimensions */
	int shuffle;              /* the shuffle filter is on */
	int deflate;              /* gzip level of the deflate filter, -1 if none */
	int nfilters;             /* filters of any kind */
	int64_t storage_bytes;    /* bytes allocated in the file (datasets) */
} xb_h5_info;

/* Describe the group or dataset PATH. */
xb_status xb_h5r_info(xb_h5r *r, const char *path, xb_h5_info *info);
/* Describe attribute NAME of OBJ. */
xb_status xb_h5r_attr_info(xb_h5r *r, const char *obj, const char *name, xb_h5_info *info);
/* Names of the members of group PATH (*NAMES: array of N strings in one malloc'd block,
 * in HDF5's name order; free(*NAMES)). */
xb_status xb_h5r_list(xb_h5r *r, const char *path, char ***names, size_t *n);
/* Names of the attributes of OBJ, same conventions. */
xb_status xb_h5r_attr_list(xb_h5r *r, const char *obj, char ***names, size_t *n);

/* ---- describe ----------------------------------------------------------------- */

/* Print what file PATH holds to OUT (`xbarsim info FILE.h5`): a header line with the
 * root schema, version and the xbarsim version that wrote it, then every group and
 * dataset recursively with its full path, type, shape, unit and storage, and every
 * attribute with its value (long text shortened to its first line).  Groups and names
 * are listed in natural order ("2" before "10").  Errors of xb_h5r_open, or XB_EIO if
 * writing OUT fails; message on ERR. */
xb_status xb_h5_describe(const char *path, FILE *out, xb_err *err);

/* The command line ARGV[0..ARGC-1] as one string for the command_line attribute, each
 * word shell-quoted when needed ('a b', 'it'\''s').  malloc'd; NULL on ENOMEM. */
char *xb_h5_join_argv(int argc, char *const *argv);

#ifdef __cplusplus
}
#endif
#endif /* XB_TRACES_H */
