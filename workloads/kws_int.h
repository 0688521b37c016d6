/* kws_int.h - internals of the synthetic keyword corpus (not installed).
 * The espeak-ng speaking service used by kws_corpus.c.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef XB_KWS_INT_H
#define XB_KWS_INT_H

#include "data_int.h"

/* One utterance to speak. */
typedef struct kws_utt {
	const char *voice;    /* "<voice>+<variant>", e.g. "en-us+f2" ("en-gb" is mapped to gmw/en) */
	const char *text;     /* UTF-8 */
	int pitch;            /* espeakPITCH, 0..99 */
	int rate_wpm;         /* espeakRATE, words per minute */
} kws_utt;

/* Called in the calling process for each utterance I as soon as it is spoken (in any
 * order): the N samples of PCM (trimmed speech, full scale 1, at the rate asked for),
 * valid during the call.  A non-OK return stops. */
typedef xb_status (*kws_done_fn)(void *ud, size_t i, const float *pcm, size_t n);

/* Speak REQS[0..N-1] at RATE_HZ, JOBS voices at a time, each utterance in its own child
 * process (see kws_synth.c), handing each result to DONE.  Errors: XB_EIO (espeak-ng
 * failed or a child died), XB_ENOENT (unknown voice), or DONE's status; message on
 * ERR.  Serialised by a process-wide lock. */
XB_HIDDEN xb_status kws_speak(const kws_utt *reqs, size_t n, int jobs, int rate_hz,
			      kws_done_fn done, void *ud, xb_err *err);

#endif /* XB_KWS_INT_H */
