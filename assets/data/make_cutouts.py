#!/usr/bin/env python3
"""Cut the animal out of each GCompris training photo of a copy of farm-av (OpenCV GrabCut
inside a hand-drawn box, the largest regions kept), written beside it as
<class>/gcompris-<class>-cutout.webp (the animal on a transparent page, at most 448 px, WebP with
alpha at quality 90). Usage: make_cutouts.py DIR (DIR a copy of farm-av; `make_drawings.sh
--more` calls it and pairs each cut-out with a recording). Needs `pip install
opencv-python-headless numpy`.

Why: Tux Paint stamps (the held-out pictures) are animals cut out of their photos; the training
photos keep their grass and sky, which one photo per class lets a net learn instead of the
animal. The boxes were drawn by hand on the training photos (fractions of width and height).
"""
import os
import sys

import cv2
import numpy as np

CLASSES = "cat chicken cow dog duck horse owl pig sheep".split()
# x0, y0, x1, y1 as fractions; the default (a 4% margin) suits the dog, duck and sheep photos.
BOXES = {"cat": (.2, .14, .98, .74), "chicken": (.03, .1, .98, .93), "cow": (.22, .37, .93, .93),
         "horse": (.12, .32, .89, .88), "owl": (.52, .19, .81, .98), "pig": (.17, .24, .63, .85)}
MAX_SIDE = 448


def cutout(img, box):
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    rect = (int(w * x0), int(h * y0), int(w * (x1 - x0)), int(h * (y1 - y0)))
    mask = np.zeros((h, w), np.uint8)
    bg, fg = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(7)
    cv2.grabCut(img, mask, rect, bg, fg, 8, cv2.GC_INIT_WITH_RECT)
    fgmask = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    # Keep the regions at least a tenth the size of the largest: drops specks of grass.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fgmask)
    keep = np.zeros_like(fgmask)
    if n > 1:
        big = stats[1:, cv2.CC_STAT_AREA].max()
        for i in range(1, n):
            if stats[i, cv2.CC_STAT_AREA] >= 0.1 * big:
                keep[labels == i] = 255
    x, y, bw, bh = cv2.boundingRect(keep)
    alpha = cv2.GaussianBlur(keep, (3, 3), 0)
    rgba = np.dstack([img, alpha])[y:y + bh, x:x + bw]
    scale = MAX_SIDE / max(bw, bh)
    if scale < 1:
        rgba = cv2.resize(rgba, (round(bw * scale), round(bh * scale)), interpolation=cv2.INTER_AREA)
    return rgba


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_cutouts.py DIR  (DIR: a copy of farm-av, changed in place)")
    root = sys.argv[1]
    for a in CLASSES:
        photo = os.path.join(root, a, f"gcompris-{a}.webp")
        img = cv2.imread(photo, cv2.IMREAD_COLOR)
        if img is None:
            sys.exit(f"cannot read {photo}")
        out = os.path.join(root, a, f"gcompris-{a}-cutout.webp")
        cv2.imwrite(out, cutout(img, BOXES.get(a, (.04, .04, .96, .96))), [cv2.IMWRITE_WEBP_QUALITY, 90])
        print(out)


if __name__ == "__main__":
    main()
