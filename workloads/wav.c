/* wav.c - a small validating reader and writer of RIFF/WAVE files with 16-bit PCM samples.
 * Only what speech corpora use: integer PCM, little-endian, any rate and channel count.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "data_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAV_FORMAT_PCM 1
#define WAV_FORMAT_EXTENSIBLE 0xFFFE

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

void xb_wav_reset(xb_wav *wav)
{
	if (!wav)
		return;
	free(wav->samples);
	memset(wav, 0, sizeof *wav);
}

xb_status xb_wav_parse(const void *data, size_t len, const char *name, xb_wav *wav,
		       xb_err *err)
{
	/* The GUID tail shared by the KSDATAFORMAT_SUBTYPE_* formats of WAVE_FORMAT_EXTENSIBLE. */
	static const unsigned char guid_tail[14] = { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
						     0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 };
	const unsigned char *buf = data, *fmt = NULL, *pcm = NULL;
	size_t pos = 12, fmt_len = 0, pcm_len = 0, end, i, nsamples;
	unsigned format, channels, bits, align;
	uint32_t rate, riff_len;

	memset(wav, 0, sizeof *wav);
	if (!name)
		name = "(memory)";
	if (len < 12 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4))
		return xb_raise(err, XB_EFORMAT, "%s: not a WAV file: expected 'RIFF....WAVE' "
				"at the start%s", name, len < 12 ? " (file shorter than 12 bytes)" : "");
	riff_len = le32(buf + 4);
	/* Some writers leave the RIFF size at 0 or too large when streaming: trust the
	 * chunks, bounded by the bytes actually there. */
	end = (riff_len >= 4 && (size_t)riff_len + 8 <= len) ? (size_t)riff_len + 8 : len;
	while (pos + 8 <= end) {
		uint32_t id_len = le32(buf + pos + 4);
		const unsigned char *body = buf + pos + 8;
		size_t avail = end - pos - 8;

		if (!memcmp(buf + pos, "fmt ", 4)) {
			if (id_len > avail)
				return xb_raise(err, XB_EFORMAT, "%s: truncated: fmt chunk of %u bytes, "
						"%zu present", name, id_len, avail);
			fmt = body;
			fmt_len = id_len;
		} else if (!memcmp(buf + pos, "data", 4)) {
			if (!fmt)
				return xb_raise(err, XB_EFORMAT, "%s: data chunk before the fmt chunk",
						name);
			if (id_len > avail)
				return xb_raise(err, XB_EFORMAT, "%s: truncated: data chunk of %u "
						"bytes, only %zu present", name, id_len, avail);
			pcm = body;
			pcm_len = id_len;
			break;
		} else if (id_len > avail) {
			return xb_raise(err, XB_EFORMAT, "%s: truncated: chunk '%.4s' of %u bytes, "
					"%zu present", name, (const char *)(buf + pos), id_len, avail);
		}
		pos += 8 + (size_t)id_len + (id_len & 1u);   /* chunks are padded to even size */
	}
	if (!fmt)
		return xb_raise(err, XB_EFORMAT, "%s: no fmt chunk", name);
	if (!pcm)
		return xb_raise(err, XB_EFORMAT, "%s: no data chunk", name);
	if (fmt_len < 16)
		return xb_raise(err, XB_EFORMAT, "%s: fmt chunk of %zu bytes, expected at least 16",
				name, fmt_len);
	format = le16(fmt);
	channels = le16(fmt + 2);
	rate = le32(fmt + 4);
	align = le16(fmt + 12);
	bits = le16(fmt + 14);
	if (format == WAV_FORMAT_EXTENSIBLE) {
		if (fmt_len < 40 || le16(fmt + 16) < 22)
			return xb_raise(err, XB_EFORMAT, "%s: WAVE_FORMAT_EXTENSIBLE fmt chunk of %zu "
					"bytes, expected 40", name, fmt_len);
		if (le16(fmt + 24) != WAV_FORMAT_PCM || memcmp(fmt + 26, guid_tail, 14))
			return xb_raise(err, XB_EFORMAT, "%s: extensible format with sub-format %u, "
					"expected integer PCM (1)", name, le16(fmt + 24));
		format = WAV_FORMAT_PCM;
	}
	if (format != WAV_FORMAT_PCM)
		return xb_raise(err, XB_EFORMAT, "%s: sample format %u, expected integer PCM (1)",
				name, format);
	if (bits != 16)
		return xb_raise(err, XB_EFORMAT, "%s: %u bits per sample, expected 16", name, bits);
	if (channels == 0 || rate == 0 || rate > 1000000)
		return xb_raise(err, XB_EFORMAT, "%s: %u channels at %u Hz, expected at least one "
				"channel and a rate of 1..1000000 Hz", name, channels, (unsigned)rate);
	if (align != 2 * channels)
		return xb_raise(err, XB_EFORMAT, "%s: block align %u, expected %u for %u channels "
				"of 16 bits", name, align, 2 * channels, channels);
	if (pcm_len % align)
		return xb_raise(err, XB_EFORMAT, "%s: data chunk of %zu bytes, expected a whole "
				"number of %u-byte frames", name, pcm_len, align);
	nsamples = pcm_len / 2;
	wav->samples = malloc(nsamples ? nsamples * sizeof *wav->samples : 1);
	if (!wav->samples)
		return xb_raise(err, XB_ENOMEM, "%s: out of memory for %zu samples", name, nsamples);
	for (i = 0; i < nsamples; i++)
		wav->samples[i] = (int16_t)le16(pcm + 2 * i);
	wav->rate_hz = (int)rate;
	wav->channels = (int)channels;
	wav->frames = nsamples / channels;
	return XB_OK;
}

xb_status xb_wav_read(const char *path, xb_wav *wav, xb_err *err)
{
	FILE *f;
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	xb_status st;

	memset(wav, 0, sizeof *wav);
	f = fopen(path, "rb");
	if (!f)
		return xb_raise(err, errno == ENOENT ? XB_ENOENT : XB_EIO, "%s: cannot open: %s",
				path, strerror(errno));
	for (;;) {
		size_t got;

		if (len == cap) {
			unsigned char *nb;

			cap = cap ? 2 * cap : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return xb_raise(err, XB_ENOMEM, "%s: out of memory", path);
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		st = xb_raise(err, XB_EIO, "%s: read error (is it a directory?)", path);
		free(buf);
		fclose(f);
		return st;
	}
	fclose(f);
	st = xb_wav_parse(buf, len, path, wav, err);
	free(buf);
	return st;
}

xb_status xb_wav_write(const char *path, const int16_t *samples, size_t frames,
		       int channels, int rate_hz, xb_err *err)
{
	unsigned char hdr[44];
	size_t bytes, i, n;
	FILE *f;
	int ok;

	if (channels <= 0 || channels > 65535 || rate_hz <= 0 || (!samples && frames) ||
	    frames > (UINT32_MAX - 36) / 2 / (size_t)channels)
		return xb_raise(err, XB_EINVAL, "%s: WAV of %zu frames x %d channels at %d Hz: "
				"expected positive channels and rate, at most 4 GB", path, frames,
				channels, rate_hz);
	n = frames * (size_t)channels;
	bytes = n * 2;
	memcpy(hdr, "RIFF", 4);
	put32(hdr + 4, (uint32_t)(36 + bytes));
	memcpy(hdr + 8, "WAVEfmt ", 8);
	put32(hdr + 16, 16);
	put16(hdr + 20, WAV_FORMAT_PCM);
	put16(hdr + 22, (uint16_t)channels);
	put32(hdr + 24, (uint32_t)rate_hz);
	put32(hdr + 28, (uint32_t)rate_hz * 2u * (uint32_t)channels);
	put16(hdr + 32, (uint16_t)(2 * channels));
	put16(hdr + 34, 16);
	memcpy(hdr + 36, "data", 4);
	put32(hdr + 40, (uint32_t)bytes);
	f = fopen(path, "wb");
	if (!f)
		return xb_raise(err, errno == ENOENT ? XB_ENOENT : XB_EIO, "%s: cannot create: %s",
				path, strerror(errno));
	ok = fwrite(hdr, 1, sizeof hdr, f) == sizeof hdr;
	for (i = 0; ok && i < n; i++) {
		unsigned char s[2];

		put16(s, (uint16_t)samples[i]);
		ok = fwrite(s, 1, 2, f) == 2;
	}
	if (fclose(f) != 0)
		ok = 0;
	if (!ok)
		return xb_raise(err, XB_EIO, "%s: write failed: %s", path, strerror(errno));
	return XB_OK;
}
