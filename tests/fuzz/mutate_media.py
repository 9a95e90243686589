#!/usr/bin/python3
"""Deterministic mutator for container and bitstream fuzzing (issue #16): writes damaged copies of
seed media files, the same files for the same arguments on every machine.

    mutate_media.py OUTDIR COUNT SEED_FILE... [--seed N]

COUNT mutants are spread over the seeds in turn; mutant i of seed s is made by a random.Random
seeded with (N, s's name, i), so each file can be remade alone. Mutations, picked per file:

  flip      a few to a few hundred bit flips, anywhere or in the first 4 KiB (headers)
  smash     a run of bytes overwritten with a pattern (zeros, 0xff, random)
  cut       the file cut at a random point
  hole      a range of bytes removed from the middle
  dup       a range of bytes repeated
  box       container-aware: an MP4 box or Matroska element (sizes, ids) damaged, removed,
            swapped, or its size field set to 0, 1, tiny or huge
  shuffle   packets shuffled: MPEG-TS 188-byte packets, Annex-B NAL units (start codes kept),
            or for other files fixed-size chunks, within a window; some dropped or duplicated

Names are <seed-stem>-<index>-<mutation>.<ext>, so a failing file says what was done to it.
"""
import os
import random
import struct
import sys

TS_PACKET = 188


def flip(rng, d):
    n = rng.choice([1, 2, 8, 64, 300])
    lo, hi = (0, min(len(d), 4096)) if rng.random() < 0.4 else (0, len(d))
    for _ in range(n):
        i = rng.randrange(lo, hi)
        d[i] ^= 1 << rng.randrange(8)
    return d


def smash(rng, d):
    n = rng.choice([16, 512, 4096, 65536])
    at = rng.randrange(len(d))
    kind = rng.randrange(3)
    for i in range(at, min(len(d), at + n)):
        d[i] = 0 if kind == 0 else 0xFF if kind == 1 else rng.randrange(256)
    return d


def cut(rng, d):
    return d[: rng.randrange(1, len(d))]


def hole(rng, d):
    a = rng.randrange(len(d))
    b = min(len(d), a + rng.choice([1, 7, 188, 1000, 20000]))
    return d[:a] + d[b:]


def dup(rng, d):
    a = rng.randrange(len(d))
    b = min(len(d), a + rng.choice([4, 188, 3000]))
    return d[:b] + d[a:b] + d[b:]


def mp4_boxes(d, start, end, depth, out):
    """Box offsets (offset, size, type, depth) of an MP4, descending into container boxes."""
    containers = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"mvex", b"moof", b"traf"}
    o = start
    while o + 8 <= end:
        size, typ = struct.unpack(">I4s", bytes(d[o:o + 8]))
        if size == 1 and o + 16 <= end:
            size = struct.unpack(">Q", bytes(d[o + 8:o + 16]))[0]
        if size < 8 or o + size > end:
            break
        out.append((o, size, typ, depth))
        if typ in containers and depth < 8:
            mp4_boxes(d, o + 8, o + size, depth + 1, out)
        elif typ == b"stsd" and depth < 8:
            mp4_boxes(d, o + 16, o + size, depth + 1, out)  # sample entries (avc1 ...) after the header
        o += size
    return out


def ebml_elements(d, limit=400):
    """(offset, id_len, size_len) of Matroska elements found by scanning for plausible headers."""
    out, o = [], 0
    while o < len(d) - 8 and len(out) < limit:
        b = d[o]
        idlen = 1 if b & 0x80 else 2 if b & 0x40 else 3 if b & 0x20 else 4 if b & 0x10 else 0
        if idlen:
            s = d[o + idlen]
            slen = next((k + 1 for k in range(8) if s & (0x80 >> k)), 0)
            if slen:
                out.append((o, idlen, slen))
                o += idlen + slen
                continue
        o += 1
    return out


def box(rng, d, ext):
    if ext in (".mp4", ".mov", ".m4v"):
        boxes = mp4_boxes(d, 0, len(d), 0, [])
        if not boxes:
            return flip(rng, d)
        o, size, typ, depth = rng.choice(boxes)
        act = rng.randrange(5)
        if act == 0:  # size field
            d[o:o + 4] = struct.pack(">I", rng.choice([0, 1, 7, 9, size - 1, size + 1, 0xFFFFFFFF, rng.randrange(1 << 32)]))
        elif act == 1:  # type field
            d[o + 4:o + 8] = rng.choice([b"free", b"\0\0\0\0", b"moov", b"mdat", bytes(rng.randrange(256) for _ in range(4))])
        elif act == 2:  # drop the box (sizes of its parents now lie)
            d = d[:o] + d[o + size:]
        elif act == 3:  # damage its body
            for _ in range(rng.choice([1, 4, 32])):
                if size > 8:
                    d[o + 8 + rng.randrange(size - 8)] = rng.randrange(256)
        else:  # swap with a sibling of the same depth
            sib = [b for b in boxes if b[3] == depth and b[0] != o]
            if sib:
                o2, s2, _, _ = rng.choice(sib)
                if o2 < o:
                    o, size, o2, s2 = o2, s2, o, size
                if o + size <= o2:
                    d = d[:o] + d[o2:o2 + s2] + d[o + size:o2] + d[o:o + size] + d[o2 + s2:]
        return d
    if ext in (".mkv", ".webm"):
        els = ebml_elements(d)
        if not els:
            return flip(rng, d)
        o, idlen, slen = rng.choice(els)
        act = rng.randrange(3)
        if act == 0:  # the size: unknown (all ones), zero or random
            first = 0x80 >> (slen - 1)
            fill = rng.choice([0xFF, 0x00, rng.randrange(256)])
            d[o + idlen] = first | (fill & (first - 1))
            for k in range(1, slen):
                d[o + idlen + k] = fill
        elif act == 1:  # the id
            d[o + rng.randrange(idlen)] = rng.randrange(256)
        else:  # drop the header and some of the body
            d = d[:o] + d[o + idlen + slen + rng.choice([0, 3, 50]):]
        return d
    return flip(rng, d)


def annexb_units(d):
    """Offsets of Annex-B start codes (00 00 01 / 00 00 00 01)."""
    starts, i = [], 0
    while True:
        i = d.find(b"\0\0\1", i)
        if i < 0:
            break
        starts.append(i - 1 if i > 0 and d[i - 1] == 0 else i)
        i += 3
    return starts


def shuffle(rng, d, ext):
    if ext == ".ts":
        n = len(d) // TS_PACKET
        units = [bytes(d[k * TS_PACKET:(k + 1) * TS_PACKET]) for k in range(n)]
        tail = bytes(d[n * TS_PACKET:])
    elif ext in (".h264", ".h265", ".264", ".265", ".hevc"):
        s = annexb_units(bytes(d)) + [len(d)]
        units = [bytes(d[s[k]:s[k + 1]]) for k in range(len(s) - 1)]
        tail = b""
        if not units:
            return flip(rng, d)
    else:
        step = rng.choice([512, 4096])
        units = [bytes(d[k:k + step]) for k in range(0, len(d), step)]
        tail = b""
    if len(units) < 4:
        return flip(rng, d)
    w = rng.choice([2, 8, 32])
    a = rng.randrange(max(1, len(units) - w))
    win = units[a:a + w]
    act = rng.randrange(3)
    if act == 0:
        rng.shuffle(win)
    elif act == 1:  # drop some
        win = [u for u in win if rng.random() < 0.6]
    else:  # duplicate some
        win = [u for u in win for _ in range(2 if rng.random() < 0.3 else 1)]
    return bytearray(b"".join(units[:a] + win + units[a + w:]) + tail)


MUTATIONS = ["flip", "smash", "cut", "hole", "dup", "box", "shuffle"]


def mutate(rng, data, ext):
    name = rng.choice(MUTATIONS)
    d = bytearray(data)
    if name == "flip":
        d = flip(rng, d)
    elif name == "smash":
        d = smash(rng, d)
    elif name == "cut":
        d = cut(rng, d)
    elif name == "hole":
        d = hole(rng, d)
    elif name == "dup":
        d = dup(rng, d)
    elif name == "box":
        d = box(rng, d, ext)
    else:
        d = shuffle(rng, d, ext)
    # now and then a second mutation on top
    if rng.random() < 0.2:
        second = rng.choice(["flip", "smash", "cut"])
        d = {"flip": flip, "smash": smash, "cut": cut}[second](rng, d)
        name += "+" + second
    return name, bytes(d)


def main():
    args = sys.argv[1:]
    seed = 16
    if "--seed" in args:
        k = args.index("--seed")
        seed = int(args[k + 1])
        del args[k:k + 2]
    if len(args) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    outdir, count, seeds = args[0], int(args[1]), args[2:]
    os.makedirs(outdir, exist_ok=True)
    datas = [open(p, "rb").read() for p in seeds]
    for i in range(count):
        s = i % len(seeds)
        stem, ext = os.path.splitext(os.path.basename(seeds[s]))
        rng = random.Random(f"{seed}/{stem}{ext}/{i}")
        name, out = mutate(rng, datas[s], ext)
        if not out:
            out = datas[s][:1]
        with open(os.path.join(outdir, f"{stem}-{i:04d}-{name}{ext}"), "wb") as f:
            f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
