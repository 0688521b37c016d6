/* kws_gen.c - xbkwsgen: write the synthetic keyword corpus (or one split of it) as a data-set file.
 * The program behind `make kws-data`; prints its timing on stderr.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <config.h>

#include "xb_data.h"
#include "xb_traces.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: xbkwsgen [OPTION]... -o FILE.h5\n"
		"Synthesise the keyword-spotting corpus with espeak-ng and write its MFCC features.\n\n"
		"  -o, --output FILE      data-set file to write (schema xbarsim-dataset)\n"
		"  -s, --split NAME       train, valid, test or all (repeatable; default all)\n"
		"      --storage TYPE     float32, int16 or int8 (default float32)\n"
		"      --seed N           random seed (default 1)\n"
		"  -j, --jobs N           espeak processes at once (default 2)\n"
		"      --voices LIST      espeak-ng voices, space-separated\n"
		"      --variants LIST    voice variants\n"
		"      --pitches LIST     base pitches 0-99\n"
		"      --speeds LIST      speaking rates, words per minute\n"
		"      --test-voices LIST voices held out for test\n"
		"      --valid-voices LIST voices held out for validation\n"
		"      --no-sources       do not record the source of each clip\n"
		"  -q, --quiet            no progress bar\n"
		"  -h, --help             this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "split", required_argument, NULL, 's' },
		{ "storage", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'e' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "voices", required_argument, NULL, 'V' },
		{ "variants", required_argument, NULL, 'A' },
		{ "pitches", required_argument, NULL, 'P' },
		{ "speeds", required_argument, NULL, 'R' },
		{ "test-voices", required_argument, NULL, 'T' },
		{ "valid-voices", required_argument, NULL, 'L' },
		{ "no-sources", no_argument, NULL, 'N' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	xb_kws_params p = xb_kws_default_params();
	xb_feature_storage storage = XB_STORE_FLOAT32;
	const char *output = NULL;
	xb_progress prog;
	xb_dataset *ds = NULL;
	xb_err err;
	unsigned splits = 0;
	size_t total = 0, selected = 0;
	double t0, t1, t2;
	char *cmd;
	int c, quiet = 0;

	xb_err_clear(&err);
	while ((c = getopt_long(argc, argv, "o:s:j:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 's': {
			int s = xb_split_parse(optarg);

			if (s == -2) {
				fprintf(stderr, "xbkwsgen: split '%s': expected train, valid, test or "
					"all\n", optarg);
				return 2;
			}
			splits |= s == XB_SPLIT_ALL ? 7u : 1u << s;
			break;
		}
		case 'S':
			if (!strcmp(optarg, "float32"))
				storage = XB_STORE_FLOAT32;
			else if (!strcmp(optarg, "int16"))
				storage = XB_STORE_INT16;
			else if (!strcmp(optarg, "int8"))
				storage = XB_STORE_INT8;
			else {
				fprintf(stderr, "xbkwsgen: storage '%s': expected float32, int16 or "
					"int8\n", optarg);
				return 2;
			}
			break;
		case 'e': p.seed = strtoull(optarg, NULL, 0); break;
		case 'j': p.jobs = atoi(optarg); break;
		case 'V': p.voices = optarg; break;
		case 'A': p.variants = optarg; break;
		case 'P': p.pitches = optarg; break;
		case 'R': p.speeds_wpm = optarg; break;
		case 'T': p.test_voices = optarg; break;
		case 'L': p.valid_voices = optarg; break;
		case 'N': p.keep_sources = 0; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!output || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (splits)
		p.splits = splits;
	if (xb_kws_count(&p, &total, &selected, &err)) {
		fprintf(stderr, "xbkwsgen: %s\n", xb_errmsg(&err));
		return 1;
	}
	xb_progress_init(&prog, stderr, quiet ? XB_PROGRESS_NONE : XB_PROGRESS_AUTO, "kws",
			 "clips");
	p.progress = xb_progress_update;
	p.progress_ud = &prog;
	t0 = xb_wall_s();
	if (xb_kws_generate(&p, NULL, &ds, NULL, &err)) {
		xb_progress_done(&prog);
		fprintf(stderr, "xbkwsgen: %s\n", xb_errmsg(&err));
		return 1;
	}
	xb_progress_done(&prog);
	t1 = xb_wall_s();
	cmd = xb_h5_join_argv(argc, argv);
	if (xb_dataset_save(ds, output, storage, xb_dataset_attr(ds, "generator"), cmd, &err)) {
		fprintf(stderr, "xbkwsgen: %s\n", xb_errmsg(&err));
		free(cmd);
		xb_dataset_free(ds);
		return 1;
	}
	t2 = xb_wall_s();
	fprintf(stderr, "xbkwsgen: %zu of %zu clips in %.1f s (%.2f ms per clip, %d jobs), "
		"saved %s in %.1f s\n", selected, total, t1 - t0,
		selected ? 1000.0 * (t1 - t0) / selected : 0.0, p.jobs, output, t2 - t1);
	free(cmd);
	xb_dataset_free(ds);
	return 0;
}
