/* panoptes eval: MOTChallenge metrics of tracking results against ground truth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "track/mot.h"

static void eval_usage(FILE *f)
{
    fputs("usage: panoptes eval --gt GT.txt --res TRACKS.txt [--iou 0.5] [--json] [--no-preprocess]\n"
          "\n"
          "Scores tracking results against ground truth, both MOTChallenge text files, with the\n"
          "metrics as TrackEval computes them:\n"
          "  CLEAR MOT  MOTA, MOTP (mean IoU of matches), TP, FP, FN, IDSW, Frag, MT, PT, ML\n"
          "  ID         IDF1, IDP, IDR (one global matching of ground-truth to result ids)\n"
          "  HOTA       HOTA, DetA, AssA, DetRe, DetPr, AssRe, AssPr, LocA (mean over IoU 0.05..0.95)\n"
          "\n"
          "  --iou T          IoU needed for a match in CLEAR and ID metrics (0.5)\n"
          "  --json           one JSON object on stdout instead of a table\n"
          "  --no-preprocess  evaluate every ground-truth row; by default MOTChallenge rules apply:\n"
          "                   rows with conf 0 or a class other than 1 (pedestrian) are ignored and\n"
          "                   results on distractors (classes 2, 7, 8, 12) are dropped\n",
          f);
}

/* Writes s as a JSON string (paths may hold quotes, backslashes or control characters). */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

int pan_cli_eval(int argc, char **argv)
{
    const char *gt_path = NULL, *res_path = NULL;
    int json = 0, rc = 1;
    char err[512];
    pan_mot_eval_params ep = pan_mot_eval_params_default();
    pan_mot_seq gt = {0}, res = {0};
    pan_mot_metrics m;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            eval_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--no-preprocess")) ep.mot_preprocess = 0;
        else if (!strcmp(a, "--gt") || !strcmp(a, "--res") || !strcmp(a, "--iou")) {
            if (!val) {
                fprintf(stderr, "panoptes eval: %s needs a value (see --help)\n", a);
                return 2;
            }
            if (!strcmp(a, "--gt")) gt_path = val;
            else if (!strcmp(a, "--res")) res_path = val;
            else {
                char *end;
                double v = strtod(val, &end);
                if (end == val || *end || !(v > 0 && v <= 1)) {
                    fprintf(stderr, "panoptes eval: --iou expects a number in (0, 1], got '%s'\n", val);
                    return 2;
                }
                ep.iou_thresh = (float)v;
            }
            i++;
        } else {
            fprintf(stderr, "panoptes eval: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!gt_path || !res_path) {
        fputs("panoptes eval: give --gt GT.txt and --res TRACKS.txt (see --help)\n", stderr);
        return 2;
    }
    if (pan_mot_read(gt_path, &gt, err, sizeof err) || (pan_mot_read(res_path, &res, err, sizeof err))) {
        fprintf(stderr, "panoptes eval: %s\n", err);
        goto done;
    }
    pan_status st = pan_mot_evaluate(&gt, &res, &ep, &m);
    if (st) {
        fprintf(stderr, "panoptes eval: cannot evaluate %s against %s: %s\n", res_path, gt_path, pan_status_str(st));
        goto done;
    }
    if (json) {
        fputs("{\"gt\":", stdout);
        json_str(gt_path);
        fputs(",\"res\":", stdout);
        json_str(res_path);
        printf(",\"iou\":%.3f,\"frames\":%lld,\"gt_dets\":%lld,\"gt_ids\":%lld,"
               "\"res_dets\":%lld,\"res_ids\":%lld,\"MOTA\":%.6f,\"MOTP\":%.6f,\"TP\":%lld,\"FP\":%lld,\"FN\":%lld,"
               "\"IDSW\":%lld,\"Frag\":%lld,\"MT\":%lld,\"PT\":%lld,\"ML\":%lld,\"IDF1\":%.6f,\"IDP\":%.6f,"
               "\"IDR\":%.6f,\"IDTP\":%lld,\"IDFP\":%lld,\"IDFN\":%lld,\"HOTA\":%.6f,\"DetA\":%.6f,\"AssA\":%.6f,"
               "\"DetRe\":%.6f,\"DetPr\":%.6f,\"AssRe\":%.6f,\"AssPr\":%.6f,\"LocA\":%.6f}\n",
               ep.iou_thresh, (long long)m.frames, (long long)m.gt_dets, (long long)m.gt_ids,
               (long long)m.res_dets, (long long)m.res_ids, m.mota, m.motp, (long long)m.tp, (long long)m.fp,
               (long long)m.fn, (long long)m.idsw, (long long)m.frag, (long long)m.mt, (long long)m.pt,
               (long long)m.ml, m.idf1, m.idp, m.idr, (long long)m.idtp, (long long)m.idfp, (long long)m.idfn,
               m.hota, m.deta, m.assa, m.detre, m.detpr, m.assre, m.asspr, m.loca);
    } else {
        printf("%s vs %s: %lld frames, %lld gt boxes (%lld ids), %lld result boxes (%lld ids)\n", res_path,
               gt_path, (long long)m.frames, (long long)m.gt_dets, (long long)m.gt_ids, (long long)m.res_dets,
               (long long)m.res_ids);
        printf("  CLEAR  MOTA %6.2f%%  MOTP %.4f  TP %lld  FP %lld  FN %lld  IDSW %lld  Frag %lld  MT %lld  PT %lld  ML %lld\n",
               100 * m.mota, m.motp, (long long)m.tp, (long long)m.fp, (long long)m.fn, (long long)m.idsw,
               (long long)m.frag, (long long)m.mt, (long long)m.pt, (long long)m.ml);
        printf("  ID     IDF1 %6.2f%%  IDP %6.2f%%  IDR %6.2f%%\n", 100 * m.idf1, 100 * m.idp, 100 * m.idr);
        printf("  HOTA   HOTA %6.2f%%  DetA %6.2f%%  AssA %6.2f%%  DetRe %6.2f%%  DetPr %6.2f%%  AssRe %6.2f%%  "
               "AssPr %6.2f%%  LocA %6.2f%%\n", 100 * m.hota, 100 * m.deta, 100 * m.assa, 100 * m.detre,
               100 * m.detpr, 100 * m.assre, 100 * m.asspr, 100 * m.loca);
    }
    rc = 0;
done:
    pan_mot_seq_free(&gt);
    pan_mot_seq_free(&res);
    return rc;
}
