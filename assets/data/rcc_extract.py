#!/usr/bin/env python3
# Used by make_drawings.sh.
"""Lists / extracts files from a Qt binary resource (.rcc) file."""
import struct, sys, zlib, os

def parse(path):
    d = open(path, 'rb').read()
    assert d[:4] == b'qres', path
    version, tree_off, data_off, names_off = struct.unpack('>IIII', d[4:20])
    node_size = 22 if version >= 2 else 14
    def name(off):
        ln, h = struct.unpack('>HI', d[names_off+off:names_off+off+6])
        return d[names_off+off+6:names_off+off+6+2*ln].decode('utf-16-be')
    out = []
    def walk(idx, prefix):
        base = tree_off + idx*node_size
        name_off, flags = struct.unpack('>IH', d[base:base+6])
        nm = name(name_off) if idx else ''
        if flags & 2:  # directory
            count, first = struct.unpack('>II', d[base+6:base+14])
            for k in range(count):
                walk(first+k, prefix + nm + '/')
        else:
            country, lang, off = struct.unpack('>HHI', d[base+6:base+14])
            size = struct.unpack('>I', d[data_off+off:data_off+off+4])[0]
            blob = d[data_off+off+4:data_off+off+4+size]
            if flags & 1:
                blob = zlib.decompress(blob[4:])
            elif flags & 4:
                import zstandard
                blob = zstandard.decompress(blob)
            out.append((prefix+nm, blob))
    walk(0, '')
    return out

if __name__ == '__main__':
    for f in sys.argv[2:]:
        for p, b in parse(f):
            if sys.argv[1] == 'list':
                print(f, p, len(b))
            else:
                dest = os.path.join(sys.argv[1], os.path.basename(f), p.lstrip('/'))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                open(dest, 'wb').write(b)
