#!/usr/bin/env python3
"""The demo video model: an R(2+1)D-18-style network at a quarter of torchvision's widths,
reading T = 8 frames of 112 x 112, trained on clips made from the farm-animal photos.

A clip is a slow camera move over one photo: a crop box that pans and zooms from one place to
another across the 8 frames (each frame the box resized to 112 px). Training clips come from the
GCompris photo of each class (9 photos), with the augmentations of McGurk's own picture pipeline
in spirit: flips, colour jitter, grey now and then, the photo shrunk onto a white page. Held-out
clips come from the Tux Paint stamps (14 pictures of 8 classes, never used for training or for
choosing anything), 4 fixed camera moves each. Written:

  assets/models/video/r2plus1d_demo.safetensors  the state dict in torchvision's key layout
                                                 (`stem.*`, `layerN.*`, `fc.*`), f16
  assets/models/video/r2plus1d_demo.json         its spec (format 1)
  assets/models/video/log.json                   per-epoch loss/accuracy, timings, settings

Run: python3 assets/models/video/train_video_demo.py   (needs torch, torchvision, safetensors,
pillow; seeds fixed; about ten minutes on two cores)
"""
import json
import math
import pathlib
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageEnhance, ImageOps
from safetensors.torch import save_file
from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D, VideoResNet

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent.parent / 'data' / 'farm-av'
CLASSES = ['cat', 'chicken', 'cow', 'dog', 'duck', 'horse', 'owl', 'pig', 'sheep']
T, SIZE = 8, 112
STEM, WIDTHS = (12, 16), (16, 32, 64, 128)
MEAN = torch.tensor([0.43216, 0.394666, 0.37645]).view(1, 3, 1, 1, 1)
STD = torch.tensor([0.22803, 0.22145, 0.216989]).view(1, 3, 1, 1, 1)
EPOCHS, PER_EPOCH, BATCH, LR, WD, SEED = 24, 288, 16, 2e-3, 5e-4, 7


class Stem(nn.Sequential):
    """torchvision's R2Plus1dStem layout at other widths."""

    def __init__(self):
        super().__init__(
            nn.Conv3d(3, STEM[0], (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False), nn.BatchNorm3d(STEM[0]), nn.ReLU(inplace=True),
            nn.Conv3d(STEM[0], STEM[1], (3, 1, 1), (1, 1, 1), (1, 0, 0), bias=False), nn.BatchNorm3d(STEM[1]), nn.ReLU(inplace=True))


class Net(VideoResNet):
    def __init__(self):
        nn.Module.__init__(self)
        self.inplanes = STEM[1]
        self.stem = Stem()
        for i, w in enumerate(WIDTHS):
            setattr(self, f'layer{i + 1}', self._make_layer(BasicBlock, Conv2Plus1D, w, 2, stride=1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(WIDTHS[-1], len(CLASSES))
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, clip):
        return super().forward((clip - MEAN) / STD)


def on_white(img, rng):
    """The picture shrunk to 45..90% and placed anywhere on a white page (the stamps' look)."""
    s = rng.uniform(0.45, 0.9)
    w, h = img.size
    small = img.resize((max(1, int(w * s)), max(1, int(h * s))), Image.BILINEAR)
    page = Image.new('RGB', (w, h), (255, 255, 255))
    page.paste(small, (rng.randint(0, w - small.width), rng.randint(0, h - small.height)))
    return page


def camera(img, rng, fixed=None):
    """8 frames of a pan/zoom over `img`: crop boxes moving from one place and scale to another."""
    w, h = img.size
    side = min(w, h)
    if fixed is None:
        s0, s1 = rng.uniform(0.55, 1.0), rng.uniform(0.55, 1.0)
        c0 = (rng.random(), rng.random())
        c1 = (rng.random(), rng.random())
    else:
        s0, s1, c0, c1 = fixed
    frames = []
    for k in range(T):
        a = k / (T - 1)
        s = side * ((1 - a) * s0 + a * s1)
        cx = (1 - a) * c0[0] + a * c1[0]
        cy = (1 - a) * c0[1] + a * c1[1]
        x0 = (w - s) * cx
        y0 = (h - s) * cy
        frame = img.resize((SIZE, SIZE), Image.BILINEAR, box=(x0, y0, x0 + s, y0 + s))
        frames.append(np.asarray(frame, dtype=np.float32) / 255.0)
    return torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2)  # [3, T, S, S]


def augment(img, rng):
    if rng.random() < 0.3:
        img = on_white(img, rng)
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.7, 1.3))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.7, 1.3))
    img = ImageEnhance.Color(img).enhance(0.0 if rng.random() < 0.15 else rng.uniform(0.6, 1.4))
    return img


def photo(path):
    return Image.open(path).convert('RGB')


def held_out():
    """Every Tux Paint stamp, 4 fixed camera moves each."""
    moves = [(1.0, 0.7, (0.5, 0.5), (0.5, 0.5)), (0.8, 0.8, (0.0, 0.5), (1.0, 0.5)),
             (0.7, 1.0, (0.3, 0.3), (0.5, 0.5)), (0.9, 0.75, (0.5, 0.0), (0.5, 1.0))]
    clips, labels, names = [], [], []
    for c, name in enumerate(CLASSES):
        for p in sorted((DATA / name).glob('tuxpaint-*.png')):
            img = Image.new('RGB', photo(p).size, (255, 255, 255))
            rgba = Image.open(p).convert('RGBA')
            img.paste(rgba, mask=rgba.split()[3])
            for m in moves:
                clips.append(camera(img, None, m))
                labels.append(c)
                names.append(p.name)
    return torch.stack(clips), torch.tensor(labels), names


def evaluate(net, clips, labels):
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(clips[i:i + 16]) for i in range(0, len(clips), 16)])
    loss = F.cross_entropy(logits, labels).item()
    return loss, logits.argmax(1)


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    rng = random.Random(SEED)
    train = [(photo(next((DATA / name).glob('gcompris-*.webp'))), c) for c, name in enumerate(CLASSES)]
    test_clips, test_labels, test_names = held_out()
    net = Net()
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WD)
    steps = EPOCHS * (PER_EPOCH // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    log = {'settings': {'epochs': EPOCHS, 'clips_per_epoch': PER_EPOCH, 'batch': BATCH, 'lr': LR, 'weight_decay': WD,
                        'seed': SEED, 'frames': T, 'size': SIZE, 'stem': STEM, 'widths': WIDTHS,
                        'optimizer': 'AdamW, one-cycle schedule'}, 'epochs': []}
    start = time.time()
    for epoch in range(EPOCHS):
        net.train()
        seen, correct, total = 0, 0, 0.0
        for _ in range(PER_EPOCH // BATCH):
            batch = [train[rng.randrange(len(train))] for _ in range(BATCH)]
            x = torch.stack([camera(augment(img, rng), rng) for img, _ in batch])
            y = torch.tensor([c for _, c in batch])
            logits = net(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            seen += len(y)
            correct += (logits.argmax(1) == y).sum().item()
            total += loss.item() * len(y)
        test_loss, pred = evaluate(net, test_clips, test_labels)
        acc = (pred == test_labels).float().mean().item()
        row = {'epoch': epoch + 1, 'train_loss': total / seen, 'train_acc': correct / seen, 'held_out_loss': test_loss,
               'held_out_acc': acc, 'seconds': time.time() - start}
        log['epochs'].append(row)
        print(json.dumps(row), flush=True)
    _, pred = evaluate(net, test_clips, test_labels)
    log['held_out'] = [{'clip': n, 'move': i % 4, 'label': CLASSES[l], 'predicted': CLASSES[p]}
                       for i, (n, l, p) in enumerate(zip(test_names, test_labels.tolist(), pred.tolist()))]
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in net.state_dict().items() if not k.endswith('num_batches_tracked')}
    save_file(state, str(HERE / 'r2plus1d_demo.safetensors'))
    spec = {'format': 1, 'name': 'demo-r2plus1d', 'visual': {'encoder': 'r2plus1d_18', 'frames': T, 'size': SIZE, 'fps': None},
            'head': 'linear', 'output': 'softmax', 'classes': CLASSES, 'keys': {'visual': '', 'head': 'fc.'},
            'weights': 'r2plus1d_demo.safetensors'}
    (HERE / 'r2plus1d_demo.json').write_text(json.dumps(spec, indent=2) + '\n')
    (HERE / 'log.json').write_text(json.dumps(log, indent=1) + '\n')


if __name__ == '__main__':
    main()
