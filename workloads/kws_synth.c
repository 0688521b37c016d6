/* kws_synth.c - speech from espeak-ng, one utterance per forked child, several at once.
 * Each child starts from the state of a parent that initialised espeak-ng but never spoke.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Why processes.  espeak-ng is not thread-safe, cannot be re-initialised in a process
 * (a second espeak_ng_Initialize after espeak_ng_Terminate hangs in 1.51), and carries
 * state from one utterance to the next (pitch flutter phase, wave phase, libc rand()),
 * so the same request spoken twice in one process gives different samples.  Here the
 * parent initialises espeak once (synchronous output, our callback) and never speaks.
 * Requests are grouped by voice.  For each voice the parent forks a "voice process"
 * that selects the voice (espeak_SetVoiceByName loads voice and dictionary: about 3 ms,
 * so once per voice, not per clip) and then forks one child per utterance of that voice,
 * one after the other; the child sets pitch and rate, speaks, writes its samples to the
 * pipe to the parent and ends.  The child also trims the silence around the speech
 * (samples below 1% of the peak, keeping 5 ms) and resamples it to the caller's rate
 * with libsamplerate (sinc, medium quality), so that this work runs in parallel too.
 * Every utterance thus starts from the state "fresh
 * espeak + this voice", and its samples depend only on the request, not on what was
 * spoken before or in which order.  JOBS voice processes run at once.
 *
 * Pipe protocol, voice process (and its children) to parent, one frame per request:
 * int32 request index, int32 status (0 OK, else a KWS_E* code), int32 sample count n
 * (for errors: a detail such as a signal number), then n float samples (full scale 1)
 * at the caller's rate.  Only one child of a voice process runs at a time, so frames
 * never mix.
 */
#include <config.h>

#include "kws_int.h"

#include <errno.h>
#include <espeak-ng/espeak_ng.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <samplerate.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* espeak is process-global: one user at a time, initialised once. */
static pthread_mutex_t espeak_lock = PTHREAD_MUTEX_INITIALIZER;
static int espeak_state;            /* 0 not tried, 1 ready, -1 failed */
static int espeak_rate_hz;
static char espeak_error[256];

/* The arrays of the running kws_speak(), kept here too so that they stay reachable in
 * the child processes (a leak checker in a child then does not report them). */
static struct {
	void *keys, *idx, *gstart, *slots, *pfd;
} speak_live;

/* The child's sample collector (only ever used inside a child). */
static int16_t *child_buf;
static size_t child_len, child_cap;
static int child_oom;

static int collect(short *wav, int num, espeak_EVENT *ev)
{
	(void)ev;
	if (!wav || num <= 0 || child_oom)
		return 0;
	if (child_len + (size_t)num > child_cap) {
		size_t cap = child_cap ? child_cap : 65536;
		int16_t *nb;

		while (cap < child_len + (size_t)num)
			cap *= 2;
		nb = realloc(child_buf, cap * sizeof *nb);
		if (!nb) {
			child_oom = 1;
			return 1;    /* abort synthesis */
		}
		child_buf = nb;
		child_cap = cap;
	}
	memcpy(child_buf + child_len, wav, (size_t)num * sizeof *wav);
	child_len += (size_t)num;
	return 0;
}

/* Initialise espeak-ng once per process (under espeak_lock). */
static xb_status espeak_init(xb_err *err)
{
	espeak_ng_ERROR_CONTEXT ctx = NULL;
	espeak_ng_STATUS st;

	if (espeak_state == 1)
		return XB_OK;
	if (espeak_state == -1)
		return xb_raise(err, XB_EIO, "%s", espeak_error);
	espeak_ng_InitializePath(NULL);
	st = espeak_ng_Initialize(&ctx);
	if (st == ENS_OK)
		st = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, NULL);
	if (st != ENS_OK) {
		char msg[160];

		espeak_ng_GetStatusCodeMessage(st, msg, sizeof msg);
		espeak_ng_ClearErrorContext(&ctx);
		snprintf(espeak_error, sizeof espeak_error, "espeak-ng: cannot initialise "
			 "(is espeak-ng-data installed?): %s", msg);
		espeak_state = -1;
		return xb_raise(err, XB_EIO, "%s", espeak_error);
	}
	espeak_ng_ClearErrorContext(&ctx);
	espeak_SetSynthCallback(collect);
	espeak_rate_hz = espeak_ng_GetSampleRate();
	espeak_state = 1;
	return XB_OK;
}

/* Write LEN bytes, retrying short writes. */
static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Voice names espeak-ng does not resolve by name, with the identifier it does. */
static const char *voice_alias(const char *voice, char *buf, size_t len)
{
	if (!strncmp(voice, "en-gb+", 6) || !strcmp(voice, "en-gb")) {
		snprintf(buf, len, "gmw/en%s", voice + 5);
		return buf;
	}
	return voice;
}

/* Frame status codes. */
enum { KWS_OK = 0, KWS_ESPEAK = 1, KWS_EVOICE = 2, KWS_ENOMEM = 3, KWS_EFORK = 4,
       KWS_EDIED = 5, KWS_ESILENT = 6, KWS_ERESAMPLE = 7 };

#define KWS_TRIM_FRACTION 0.01     /* trim below 1% of the peak (-40 dB) */
#define KWS_TRIM_MARGIN_S 0.005    /* keep 5 ms around the trimmed speech */

/* End a child process.  It only borrowed the parent's memory, so no exit handler and no
 * leak checker (valgrind) must run in it: SIGKILL ends it on the spot.  Parents take
 * SIGKILL as a normal end and check completeness by the frames received. */
static _Noreturn void child_end(void)
{
	kill(getpid(), SIGKILL);
	_exit(0);
}

static int ended_normally(int status)
{
	return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
	       (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void send_frame(int fd, int32_t index, int32_t status, int32_t detail)
{
	int32_t head[3] = { index, status, detail };

	write_all(fd, head, sizeof head);
}

/* Trim child_buf (RATE_IN) and resample it to RATE_OUT into *OUT (malloc'd, *N
 * samples).  Returns a KWS_* status; *DETAIL gets libsamplerate's error. */
static int trim_resample(int rate_in, int rate_out, float **out, size_t *n, int *detail)
{
	size_t k, first, last, margin, len, cap;
	int peak = 0, thr;
	float *in;
	SRC_DATA sd;

	for (k = 0; k < child_len; k++)
		if (abs(child_buf[k]) > peak)
			peak = abs(child_buf[k]);
	if (peak == 0)
		return KWS_ESILENT;
	thr = (int)ceil(KWS_TRIM_FRACTION * peak);
	for (first = 0; first < child_len && abs(child_buf[first]) < thr; first++)
		;
	for (last = child_len - 1; last > first && abs(child_buf[last]) < thr; last--)
		;
	margin = (size_t)(KWS_TRIM_MARGIN_S * rate_in);
	first = first > margin ? first - margin : 0;
	last = last + margin < child_len ? last + margin : child_len - 1;
	len = last - first + 1;
	cap = (size_t)((double)len * rate_out / rate_in) + 64;
	in = malloc(len * sizeof *in);
	*out = malloc(cap * sizeof **out);
	if (!in || !*out) {
		free(in);
		return KWS_ENOMEM;
	}
	for (k = 0; k < len; k++)
		in[k] = child_buf[first + k] / 32768.0f;
	memset(&sd, 0, sizeof sd);
	sd.data_in = in;
	sd.input_frames = (long)len;
	sd.data_out = *out;
	sd.output_frames = (long)cap;
	sd.src_ratio = (double)rate_out / rate_in;
	*detail = src_simple(&sd, SRC_SINC_MEDIUM_QUALITY, 1);
	free(in);
	if (*detail)
		return KWS_ERESAMPLE;
	*n = (size_t)sd.output_frames_gen;
	return *n ? KWS_OK : KWS_ESILENT;
}

/* A child of a voice process: speak REQ (request INDEX), send the frame, exit. */
static _Noreturn void child_speak(const kws_utt *req, int32_t index, int rate_out, int fd)
{
	int32_t head[3] = { index, KWS_OK, 0 };
	float *pcm = NULL;
	size_t n = 0;
	espeak_ERROR e;

	e = espeak_SetParameter(espeakRATE, req->rate_wpm, 0);
	if (e == EE_OK)
		e = espeak_SetParameter(espeakPITCH, req->pitch, 0);
	if (e == EE_OK)
		e = espeak_Synth(req->text, strlen(req->text) + 1, 0, POS_CHARACTER, 0,
				 espeakCHARS_UTF8, NULL, NULL);
	if (e == EE_OK)
		e = espeak_Synchronize();
	if (e != EE_OK) {
		head[1] = KWS_ESPEAK;
		head[2] = e;
	} else if (child_oom) {
		head[1] = KWS_ENOMEM;
	} else {
		head[1] = trim_resample(espeak_rate_hz, rate_out, &pcm, &n, &head[2]);
		if (head[1] == KWS_OK)
			head[2] = (int32_t)n;
	}
	if (write_all(fd, head, sizeof head) == 0 && head[1] == KWS_OK)
		write_all(fd, pcm, n * sizeof *pcm);
	child_end();
}

/* A voice process: select the voice of REQS[IDX[0]], then speak IDX[0..N-1] one child
 * at a time; exit. */
static _Noreturn void voice_process(const kws_utt *reqs, const size_t *idx, size_t n, int rate_out,
			  int fd)
{
	char alias[128];
	size_t k;

	signal(SIGPIPE, SIG_DFL);
	if (espeak_SetVoiceByName(voice_alias(reqs[idx[0]].voice, alias, sizeof alias)) !=
	    EE_OK) {
		send_frame(fd, (int32_t)idx[0], KWS_EVOICE, 0);
		child_end();
	}
	for (k = 0; k < n; k++) {
		int status = 0;
		pid_t pid = fork();

		if (pid == 0)
			child_speak(&reqs[idx[k]], (int32_t)idx[k], rate_out, fd);
		if (pid < 0) {
			send_frame(fd, (int32_t)idx[k], KWS_EFORK, errno);
			child_end();
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!ended_normally(status)) {
			send_frame(fd, (int32_t)idx[k], KWS_EDIED,
				   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			child_end();
		}
	}
	child_end();
}

/* One running voice process. */
typedef struct slot {
	pid_t pid;
	int fd;
	size_t group;            /* index of its voice group */
	size_t frames;           /* frames received */
	unsigned char *buf;      /* bytes received, not yet parsed */
	size_t len, cap;
} slot;

static void slot_kill(slot *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->pid = -1;
	s->fd = -1;
	s->len = 0;
}

/* Hand every complete frame in S's buffer to DONE. */
static xb_status slot_parse(slot *s, const kws_utt *reqs, size_t n, kws_done_fn done,
			    void *ud, xb_err *err)
{
	size_t pos = 0;
	xb_status st = XB_OK;

	while (!st && s->len - pos >= 3 * sizeof(int32_t)) {
		int32_t head[3];
		size_t need;
		const kws_utt *r;

		memcpy(head, s->buf + pos, sizeof head);
		if (head[0] < 0 || (size_t)head[0] >= n || (head[1] == KWS_OK && head[2] <= 0))
			return xb_raise(err, XB_EINTERNAL, "espeak-ng: garbled reply from a voice "
					"process (request %d, status %d, %d samples)", head[0], head[1],
					head[2]);
		r = &reqs[head[0]];
		if (head[1] != KWS_OK) {
			switch (head[1]) {
			case KWS_EVOICE:
				return xb_raise(err, XB_ENOENT, "espeak-ng: voice '%s' not found "
						"(espeak-ng --voices=en lists the voices; variants are "
						"the files of espeak-ng-data/voices/!v)", r->voice);
			case KWS_ENOMEM:
				return xb_raise(err, XB_ENOMEM, "espeak-ng: out of memory speaking "
						"'%s'", r->text);
			case KWS_EFORK:
				return xb_raise(err, XB_EIO, "espeak-ng: fork: %s", strerror(head[2]));
			case KWS_ESILENT:
				return xb_raise(err, XB_EIO, "espeak-ng: speaking '%s' with voice %s "
						"gave no sound", r->text, r->voice);
			case KWS_ERESAMPLE:
				return xb_raise(err, XB_EINTERNAL, "libsamplerate: %s",
						src_strerror(head[2]));
			case KWS_EDIED:
				return xb_raise(err, XB_EIO, "espeak-ng: the process speaking '%s' with "
						"voice %s died (status or signal %d)", r->text, r->voice,
						head[2]);
			default:
				return xb_raise(err, XB_EIO, "espeak-ng: speaking '%s' with voice %s at "
						"pitch %d, %d wpm failed (espeak error %d)", r->text,
						r->voice, r->pitch, r->rate_wpm, head[2]);
			}
		}
		need = sizeof head + (size_t)head[2] * sizeof(float);
		if (s->len - pos < need)
			break;
		/* The samples start 12 bytes into a malloc'd buffer, at a multiple of 4. */
		st = done(ud, (size_t)head[0],
			  (const float *)(const void *)(s->buf + pos + sizeof head),
			  (size_t)head[2]);
		pos += need;
		s->frames++;
	}
	if (pos) {
		memmove(s->buf, s->buf + pos, s->len - pos);
		s->len -= pos;
	}
	return st;
}

/* XB_ENOENT if the variant of VOICE ("<voice>+<variant>") has no file in espeak-ng's
 * data: espeak_SetVoiceByName silently ignores an unknown variant. */
static xb_status check_variant(const char *voice, xb_err *err)
{
	const char *plus = strchr(voice, '+'), *data = NULL;
	char path[4096];

	espeak_Info(&data);
	if (!plus || !data || !data[0])
		return XB_OK;
	if ((size_t)snprintf(path, sizeof path, "%s/voices/!v/%s", data, plus + 1) >= sizeof path
	    || strchr(plus + 1, '/') || access(path, R_OK) != 0)
		return xb_raise(err, XB_ENOENT, "espeak-ng: voice '%s': no variant '%s' in %s/voices/!v",
				voice, plus + 1, data);
	return XB_OK;
}

/* Order of requests: by voice, then by index. */
typedef struct order_key {
	const char *voice;
	size_t index;
} order_key;

static int cmp_order(const void *a, const void *b)
{
	const order_key *x = a, *y = b;
	int c = strcmp(x->voice, y->voice);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

xb_status kws_speak(const kws_utt *reqs, size_t n, int jobs, int rate_hz, kws_done_fn done,
		    void *ud, xb_err *err)
{
	slot *slots = NULL;
	struct pollfd *pfd = NULL;
	order_key *keys = NULL;
	size_t *idx = NULL, *gstart = NULL, ngroups = 0, next = 0, finished = 0, i;
	int j;
	xb_status st = XB_OK;

	if (n == 0)
		return XB_OK;
	if (jobs < 1)
		jobs = 1;
	keys = malloc(n * sizeof *keys);
	idx = malloc(n * sizeof *idx);
	gstart = malloc((n + 1) * sizeof *gstart);
	slots = calloc((size_t)jobs, sizeof *slots);
	pfd = calloc((size_t)jobs, sizeof *pfd);
	if (!keys || !idx || !gstart || !slots || !pfd) {
		st = xb_raise(err, XB_ENOMEM, "espeak-ng: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		keys[i].voice = reqs[i].voice;
		keys[i].index = i;
	}
	qsort(keys, n, sizeof *keys, cmp_order);
	for (i = 0; i < n; i++) {
		idx[i] = keys[i].index;
		if (i == 0 || strcmp(keys[i].voice, keys[i - 1].voice))
			gstart[ngroups++] = i;
	}
	gstart[ngroups] = n;
	for (j = 0; j < jobs; j++) {
		slots[j].pid = -1;
		slots[j].fd = -1;
	}
	pthread_mutex_lock(&espeak_lock);
	speak_live.keys = keys;
	speak_live.idx = idx;
	speak_live.gstart = gstart;
	speak_live.slots = slots;
	speak_live.pfd = pfd;
	st = espeak_init(err);
	for (i = 0; !st && i < ngroups; i++)
		st = check_variant(reqs[idx[gstart[i]]].voice, err);
	while (!st && finished < ngroups) {
		int np = 0;

		for (j = 0; j < jobs && next < ngroups; j++) {
			int fds[2];
			pid_t pid;

			if (slots[j].pid > 0)
				continue;
			if (pipe(fds) != 0) {
				st = xb_raise(err, XB_EIO, "espeak-ng: pipe: %s", strerror(errno));
				break;
			}
			pid = fork();
			if (pid < 0) {
				close(fds[0]);
				close(fds[1]);
				st = xb_raise(err, XB_EIO, "espeak-ng: fork: %s", strerror(errno));
				break;
			}
			if (pid == 0) {
				close(fds[0]);
				voice_process(reqs, idx + gstart[next], gstart[next + 1] - gstart[next],
					      rate_hz, fds[1]);
			}
			close(fds[1]);
			slots[j].pid = pid;
			slots[j].fd = fds[0];
			slots[j].group = next++;
			slots[j].frames = 0;
			slots[j].len = 0;
		}
		if (st)
			break;
		for (j = 0; j < jobs; j++)
			if (slots[j].pid > 0) {
				pfd[np].fd = slots[j].fd;
				pfd[np].events = POLLIN;
				pfd[np].revents = 0;
				np++;
			}
		if (poll(pfd, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			st = xb_raise(err, XB_EIO, "espeak-ng: poll: %s", strerror(errno));
			break;
		}
		for (j = 0; j < jobs && !st; j++) {
			slot *s = &slots[j];
			int k, ready = 0, status = 0;
			size_t want;
			ssize_t got;

			if (s->pid <= 0)
				continue;
			for (k = 0; k < np; k++)
				if (pfd[k].fd == s->fd && pfd[k].revents)
					ready = 1;
			if (!ready)
				continue;
			if (s->cap - s->len < 65536) {
				size_t cap = s->cap ? 2 * s->cap : 262144;
				unsigned char *nb = realloc(s->buf, cap);

				if (!nb) {
					st = xb_raise(err, XB_ENOMEM, "espeak-ng: out of memory");
					break;
				}
				s->buf = nb;
				s->cap = cap;
			}
			got = read(s->fd, s->buf + s->len, s->cap - s->len);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				st = xb_raise(err, XB_EIO, "espeak-ng: read: %s", strerror(errno));
				break;
			}
			if (got > 0) {
				s->len += (size_t)got;
				st = slot_parse(s, reqs, n, done, ud, err);
				continue;
			}
			/* End of the voice process's output. */
			while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
				;
			s->pid = -1;
			close(s->fd);
			s->fd = -1;
			want = gstart[s->group + 1] - gstart[s->group];
			if (s->frames != want || s->len) {
				const kws_utt *r = &reqs[idx[gstart[s->group] + s->frames < n
							     ? gstart[s->group] + s->frames
							     : gstart[s->group]]];

				st = xb_raise(err, XB_EIO, "espeak-ng: the voice process of %s stopped "
					      "after %zu of %zu utterances (%s %d), at '%s'", r->voice,
					      s->frames, want, WIFSIGNALED(status) ? "signal" : "status",
					      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
					      r->text);
			}
			s->len = 0;
			finished++;
		}
	}
	for (j = 0; j < jobs; j++) {
		slot_kill(&slots[j]);
		free(slots[j].buf);
	}
	memset(&speak_live, 0, sizeof speak_live);
	pthread_mutex_unlock(&espeak_lock);
out:
	free(keys);
	free(idx);
	free(gstart);
	free(slots);
	free(pfd);
	return st;
}
