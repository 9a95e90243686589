#!/usr/bin/python3
"""Scores cross-camera identities on two overlapping crops of one view (tests/test-reid-cameras.sh).

    score_overlap.py RESULTS.jsonl DX WIDTH

Camera 0 is the left crop, camera 1 the right crop starting at x = DX of camera 0; both are WIDTH
pixels wide. A person visible in both: a camera-0 track lying inside the overlap [DX, WIDTH)
(8 px margin) and the camera-1 track whose box, shifted by DX, has the best IoU >= 0.5 with it.
Prints one JSON object: frame_pairs (such pairs over all frames), frame_pairs_same_gid (pairs
where both carry the same non-zero global_id), frac; track_pairs (distinct (id0, id1) pairs),
track_pairs_same_gid_majority (pairs with the same global id in most of their frames), track_frac;
global_ids (distinct global ids in the run).
"""
import json, sys
DX = float(sys.argv[2])
WIDTH = float(sys.argv[3])
def iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0]); h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0: return 0.0
    i = w * h
    return i / ((a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - i)
fr = {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    fr.setdefault(o['frame'], {})[o['camera']] = o.get('tracks', [])
pairs = same = 0
uniq = {}
for f, cams in fr.items():
    if 0 not in cams or 1 not in cams: continue
    for a in cams[0]:
        b0 = a['box']
        if b0[0] < DX + 8 or b0[2] > WIDTH - 8: continue
        best, bb = 0.5, None
        for b in cams[1]:
            sb = [b['box'][0] + DX, b['box'][1], b['box'][2] + DX, b['box'][3]]
            v = iou(b0, sb)
            if v >= best: best, bb = v, b
        if bb is None: continue
        pairs += 1
        ok = a['global_id'] == bb['global_id'] and a['global_id'] > 0
        same += ok
        k = (a['id'], bb['id'])
        u = uniq.setdefault(k, [0, 0]); u[0] += 1; u[1] += ok
n_u = len(uniq)
maj = sum(1 for v in uniq.values() if v[1] * 2 > v[0])
gids = set()
for f, cams in fr.items():
    for c, ts in cams.items():
        for t in ts: gids.add(t['global_id'])
print(json.dumps({"frame_pairs": pairs, "frame_pairs_same_gid": same, "frac": round(same / max(pairs, 1), 4),
                  "track_pairs": n_u, "track_pairs_same_gid_majority": maj, "track_frac": round(maj / max(n_u, 1), 4),
                  "global_ids": len(gids)}))
