#!/usr/bin/env python3
"""Builds an unlabelled distillation corpus of real, varied images from Debian packages (issue 15).

Usage: build-corpus.py OUTDIR [--only PKG,PKG...] [--max-share 0.4]
Needs: apt-get (run `apt-get update` once as root first), dpkg-deb. Standard library only.

OUTDIR gets:
  images/<package>/<path inside the package>   the images, unchanged (PNG, JPEG, WebP)
  corpus.csv                                   path,source_package,licence,sha256 (path relative to OUTDIR)
  sources.md                                   per-source counts and licences (for the model card)
Downloads are cached in $DATASET_CACHE (default ~/.cache/efficientcnn-datasets/debs), shared with
/work/shared/datasets/build.py's cache layout.

What is never taken (reserved for the dev sets and independent evaluation):
  any tuxpaint* package; stellarium's nebulae/deep-sky photos; wesnoth unit sprites (any images/units folder).
Filters: PNG/JPEG/WebP only (no SVG), shorter side >= 48 px, aspect ratio <= 4 (sprite strips crop to noise),
no icon/doc folders, exact duplicates removed by SHA-256 of the file bytes (first source in SOURCES wins),
a cap per source (its `cap`) and no source above --max-share of the corpus (deterministic subsample by hash).
"""
import argparse, csv, fnmatch, glob, hashlib, os, re, shutil, subprocess, sys, tempfile, time, zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from imageinfo import image_size  # noqa: E402
from qtrcc import rcc_files  # noqa: E402

CACHE = os.environ.get("DATASET_CACHE", os.path.expanduser("~/.cache/efficientcnn-datasets/debs"))
MAX_DEB_BYTES = 400_000_000
MIN_SIDE, MAX_ASPECT = 48, 4.0
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
# Folders whose images are icons, UI chrome or documentation screenshots: many tiny, near-identical files.
GLOBAL_EXCLUDES = [r"/icons?/", r"/pixmaps/", r"/doc/", r"/HTML/", r"/locale/", r"/cursors?/", r"/fonts?/",
                   # 3D engines' non-colour maps (normals, specular, height...) look nothing like a picture; masks are stencils.
                   r"(?i)[_-](nm|normal|norm|spec|specular|gloss|hm|height|bump|local|sm|dm|glow|ao|disp)\.(png|jpe?g|webp)$",
                   r"(?i)/[^/]*mask[^/]*\.png$"]
# Dev-set and evaluation images: never in the corpus, whatever a source's rules say.
FORBIDDEN_PACKAGE = re.compile(r"^tuxpaint")
FORBIDDEN_PATHS = [r"stellarium/nebulae/", r"/images/units/", r"/deep-?sky/"]


class Source:
    """One Debian package: which folders to take (globs under the unpacked root), what to leave out, at most how many."""

    def __init__(self, package, kind, include, exclude=(), cap=None, archives=(), rcc=False):
        self.package, self.kind, self.include, self.exclude = package, kind, list(include), list(exclude)
        self.cap, self.archives, self.rcc = cap, list(archives), rcc


SOURCES = [
    # Photos and photographic wallpapers.
    Source("gnome-backgrounds", "photo/wallpaper", ["usr/share/backgrounds"]),
    Source("mate-backgrounds", "photo/wallpaper", ["usr/share/backgrounds"]),
    Source("plasma-workspace-wallpapers", "photo/wallpaper", ["usr/share/wallpapers"]),
    Source("ukui-wallpapers", "photo/wallpaper", ["usr/share/backgrounds"]),
    Source("lomiri-wallpapers", "photo/wallpaper", ["usr/share/backgrounds"]),
    Source("lomiri-wallpapers-16.04", "photo/wallpaper", ["usr/share/backgrounds"]),
    Source("lomiri-wallpapers-20.04", "photo/wallpaper", ["usr/share/backgrounds"]),
    Source("sway-backgrounds", "wallpaper", ["usr/share/backgrounds"]),
    Source("desktop-base", "wallpaper", ["usr/share/desktop-base", "usr/share/plymouth/themes"]),
    Source("debian-edu-artwork-emerald", "wallpaper", ["usr/share"]),
    Source("debian-edu-artwork-homeworld", "wallpaper", ["usr/share"]),
    Source("debian-edu-artwork-softwaves", "wallpaper", ["usr/share"]),
    Source("debian-edu-artwork-spacefun", "wallpaper", ["usr/share"]),
    Source("debian-edu-artwork-buster", "wallpaper", ["usr/share"]),
    Source("stellarium-data", "photo/landscape", ["usr/share/stellarium/landscapes"]),
    Source("jigzo-data", "photo", ["usr/share/games/jigzo"]),
    Source("palapeli-data", "photo", ["usr/share/palapeli"]),
    Source("libjxl-testdata", "photo", ["usr/share"], exclude=[r"/fuzz", r"/afl", r"/jxl/crash"]),
    Source("digikam-data", "photo", ["usr/share/digikam", "usr/share/showfoto"], cap=300),
    Source("scratch", "photo/drawing", ["usr/share/scratch/Media"]),
    # Children's educational activities: photos and drawings of animals, objects, places.
    Source("gcompris-qt-data", "photo/drawing", ["rcc"], rcc=True),
    # Drawings.
    Source("openclipart-png", "drawing", ["usr/share/openclipart/png"]),
    # Paper, canvas and material textures.
    Source("mypaint-data-extras", "texture", ["usr/share/mypaint"]),
    Source("gimp-data", "texture", ["usr/share/gimp"], cap=500),
    Source("krita-data", "texture", ["usr/share/krita"], cap=1000),
    # Game art: portraits, terrain, scenery, textures (never wesnoth unit sprites).
    Source("wesnoth-1.16-data", "game art", ["usr/share/games/wesnoth/1.16/data"], cap=4000,
           # UI chrome and effect sprites (halos, projectiles) are mostly transparent: black once alpha is dropped.
           exclude=[r"/images/(halo|projectiles|misc|masks|help|flags|themes|buttons|dialogs|cursors|icons)/"]),
    Source("lincity-ng-data", "game art", ["usr/share/games/lincity-ng"]),
    Source("freeciv-data", "game art", ["usr/share/games/freeciv"]),
    Source("extremetuxracer-data", "game texture", ["usr/share/games/etr"]),
    Source("lugaru-data", "game texture", ["usr/share/games/lugaru"]),
    Source("openarena-data", "game texture", ["usr/share/games/openarena"], archives=["*.pk3"], cap=3000),
    Source("neverball-data", "game texture", ["usr/share/games/neverball"]),
    Source("scorched3d-data", "game texture", ["usr/share/games/scorched3d"]),
    Source("warzone2100-data", "game art", ["usr/share/games/warzone2100"], archives=["*.wz", "*.zip"], cap=3000),
    Source("freeorion-data", "game art", ["usr/share/games/freeorion"], cap=4000),
    Source("hedgewars-data", "game art", ["usr/share/games/hedgewars"], cap=3000),
    Source("flare-game", "game art", ["usr/share/games/flare"], cap=3000),
    Source("supertux-data", "game art", ["usr/share/games/supertux2"], cap=3000),
    Source("fillets-ng-data", "game art", ["usr/share/games/fillets-ng"], cap=3000),
    Source("megaglest-data", "game art", ["usr/share/games/megaglest"], cap=4000),
    Source("cube2-data", "game texture", ["usr/share/games/cube2"], archives=["*.zip"], cap=4000),
    Source("naev-data", "game art (space)", ["usr/share/naev/dat"], cap=1500),
    # Workers are walk-cycle frames: thousands of near-identical small sprites.
    Source("widelands-data", "game art", ["usr/share/games/widelands"], exclude=[r"/workers/"], cap=1500),
    Source("endless-sky-data", "game art (space)", ["usr/share/games/endless-sky/images"], cap=1500),
    Source("freedroidrpg-data", "game art", ["usr/share/freedroidrpg/data/graphics"], cap=2500),
    Source("pingus-data", "game art", ["usr/share/games/pingus/data"]),
    Source("warmux-data", "game art", ["usr/share/games/warmux"], cap=500),
]


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def deb_size(package):
    out = subprocess.run(["apt-cache", "show", package], capture_output=True, text=True).stdout
    m = re.search(r"^Size: (\d+)", out, re.M)
    return int(m.group(1)) if m else None


def fetch(package):
    """Downloads (once) and unpacks (once) a package; returns its unpacked root, or None with a reason."""
    if FORBIDDEN_PACKAGE.match(package):
        return None, "reserved for independent evaluation"
    os.makedirs(CACHE, exist_ok=True)
    debs = glob.glob(os.path.join(CACHE, glob.escape(package) + "_*.deb"))
    if not debs:
        size = deb_size(package)
        if size is None:
            return None, "not in the apt index"
        if size > MAX_DEB_BYTES:
            return None, f"too large ({size / 1e6:.0f} MB)"
        if subprocess.run(["apt-get", "download", package], cwd=CACHE, capture_output=True).returncode != 0:
            return None, "apt-get download failed"
        debs = glob.glob(os.path.join(CACHE, glob.escape(package) + "_*.deb"))
    root = os.path.join(CACHE, "x-" + package)
    if not os.path.isdir(root):
        tmp = tempfile.mkdtemp(dir=CACHE)
        subprocess.run(["dpkg-deb", "-x", debs[0], tmp], check=True)
        os.rename(tmp, root)
    return root, None


def unpack_bundles(source, root):
    """Images inside .rcc bundles or zip archives, written once to a side folder; returns that folder (or None)."""
    if not source.rcc and not source.archives:
        return None
    side = root + "-unpacked"
    if os.path.isdir(side):
        return side
    tmp = tempfile.mkdtemp(dir=CACHE)
    for top in source.include if not source.rcc else ["usr/share"]:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                if source.rcc and name.endswith(".rcc"):
                    members = rcc_files(full)
                elif any(fnmatch.fnmatch(name, pattern) for pattern in source.archives) and zipfile.is_zipfile(full):
                    members = zip_members(full)
                else:
                    continue
                for member, data in members:
                    if member.lower().endswith(IMAGE_EXTENSIONS):
                        dest = os.path.join(tmp, "rcc" if source.rcc else "", rel, member)
                        os.makedirs(os.path.dirname(dest), exist_ok=True)
                        with open(dest, "wb") as f:
                            f.write(data)
    os.rename(tmp, side)
    return side


def zip_members(path):
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if not info.is_dir() and info.filename.lower().endswith(IMAGE_EXTENSIONS) and ".." not in info.filename:
                yield info.filename, z.read(info)


def candidates(source, root):
    """Yields (absolute path, path inside the package) of every acceptable image of a source, in sorted order."""
    side = unpack_bundles(source, root)
    trees = [(root, source.include if not source.rcc else [])] + ([(side, source.include)] if side else [])
    excludes = [re.compile(p) for p in GLOBAL_EXCLUDES + source.exclude]
    forbidden = [re.compile(p) for p in FORBIDDEN_PATHS]
    for base, tops in trees:
        for top in tops:
            start = os.path.join(base, top)
            for dirpath, dirnames, files in os.walk(start):
                dirnames.sort()
                for name in sorted(files):
                    if not name.lower().endswith(IMAGE_EXTENSIONS):
                        continue
                    full = os.path.join(dirpath, name)
                    rel = "/" + os.path.relpath(full, base)
                    if any(p.search(rel) for p in forbidden) or any(p.search(rel) for p in excludes):
                        continue
                    if os.path.islink(full) or not os.path.isfile(full):
                        continue
                    info = image_size(full)
                    if info is None:
                        continue
                    _, w, h = info
                    if min(w, h) < MIN_SIDE or max(w, h) > MAX_ASPECT * min(w, h):
                        continue
                    yield full, rel.lstrip("/")


def licence_of(package, root):
    """A short SPDX-like licence string from the package's copyright file (DEP-5 License fields, else keywords)."""
    path = os.path.join(root, "usr/share/doc", package, "copyright")
    if not os.path.isfile(path):
        return "see Debian package copyright"
    text = open(path, encoding="utf-8", errors="replace").read()
    found = []
    if text.lstrip().startswith("Format:"):
        for stanza in re.split(r"\n\s*\n", text):
            if re.search(r"^Files:", stanza, re.M):
                m = re.search(r"^License:\s*(.+)$", stanza, re.M)
                if m:
                    found.append(m.group(1).strip())
    if not found:
        keywords = [(r"GNU General Public License.{0,80}?version 3", "GPL-3+"), (r"GNU General Public License.{0,80}?version 2", "GPL-2+"),
                    (r"GPL-3", "GPL-3+"), (r"GPL-2", "GPL-2+"), (r"Attribution-ShareAlike", "CC-BY-SA"), (r"CC0|Creative Commons Zero", "CC0-1.0"),
                    (r"Creative Commons Attribution", "CC-BY"), (r"[Pp]ublic [Dd]omain", "public-domain"), (r"\bMIT\b", "MIT"),
                    (r"Free Art License", "FAL-1.3"), (r"Lesser General Public", "LGPL")]
        for pattern, name in keywords:
            if re.search(pattern, text, re.S) and name not in found:
                found.append(name)
    ordered = []
    for name in found:  # keep order of first appearance (the "Files: *" stanza first), no repeats
        if name not in ordered:
            ordered.append(name)
    if not ordered:
        return "see Debian package copyright"
    return "; ".join(ordered[:3]) + ("; ..." if len(ordered) > 3 else "")


def stable_key(sha):
    return sha  # subsampling by content hash: deterministic and independent of file names


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--only", help="comma-separated packages (default: all of SOURCES)")
    parser.add_argument("--max-share", type=float, default=0.4, help="largest fraction of the corpus one source may hold")
    parser.add_argument("--link", action="store_true", help="hard-link files from the cache instead of copying")
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    wanted = set(args.only.split(",")) if args.only else None
    sources = [s for s in SOURCES if wanted is None or s.package in wanted]
    seen, per_source, skipped, licences, kinds, duplicates, found = set(), {}, {}, {}, {}, {}, {}
    for source in sources:
        root, why = fetch(source.package)
        if root is None:
            skipped[source.package] = why
            log(f"skip {source.package}: {why}")
            continue
        licences[source.package] = licence_of(source.package, root)
        kinds[source.package] = source.kind
        rows, dup = [], 0
        for full, rel in candidates(source, root):
            sha = hashlib.sha256(open(full, "rb").read()).hexdigest()
            if sha in seen:
                dup += 1
                continue
            seen.add(sha)
            rows.append((full, rel, sha))
        found[source.package] = len(rows)
        if source.cap and len(rows) > source.cap:
            rows = sorted(sorted(rows, key=lambda r: stable_key(r[2]))[:source.cap], key=lambda r: r[1])
        per_source[source.package], duplicates[source.package] = rows, dup
        log(f"{source.package}: {len(rows)} images ({dup} duplicates dropped), {licences[source.package]}")
    capped = apply_share_cap(per_source, args.max_share)
    write_corpus(out, sources, capped, found, licences, kinds, duplicates, skipped, args.link)


def apply_share_cap(per_source, max_share):
    """Trims the largest sources until none holds more than max_share of the total (fixed point; deterministic)."""
    kept = {k: list(v) for k, v in per_source.items()}
    for _ in range(50):
        total = sum(len(v) for v in kept.values())
        over = {k: v for k, v in kept.items() if len(v) > max_share * total + 1e-9}
        if not over or total == 0:
            break
        others = total - sum(len(v) for v in over.values())
        # each over-share source gets at most share/(1 - share * n_over) of the others' count
        limit = int(max_share * others / max(1e-9, 1 - max_share * len(over)))
        for k, v in over.items():
            kept[k] = sorted(sorted(v, key=lambda r: stable_key(r[2]))[:max(limit, 1)], key=lambda r: r[1])
    return kept


def write_corpus(out, sources, capped, found, licences, kinds, duplicates, skipped, link):
    images = os.path.join(out, "images")
    os.makedirs(images, exist_ok=True)
    rows = []
    for source in sources:
        for full, rel, sha in capped.get(source.package, []):
            dest_rel = os.path.join("images", source.package, rel)
            dest = os.path.join(out, dest_rel)
            if not os.path.exists(dest):
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                if link:
                    try:
                        os.link(full, dest)
                    except OSError:
                        shutil.copyfile(full, dest)
                else:
                    shutil.copyfile(full, dest)
            rows.append((dest_rel, source.package, licences[source.package], sha))
    tmp = os.path.join(out, "corpus.csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "source_package", "licence", "sha256"])
        w.writerows(rows)
    os.replace(tmp, os.path.join(out, "corpus.csv"))
    total = len(rows)
    lines = ["| source package | kind | images | share | found | duplicates dropped | licence (debian/copyright) |",
             "|---|---|---:|---:|---:|---:|---|"]
    for source in sources:
        if source.package not in capped:
            continue
        n = len(capped[source.package])
        lines.append(f"| {source.package} | {kinds[source.package]} | {n} | {100 * n / max(total, 1):.1f} % | "
                     f"{found[source.package]} | {duplicates[source.package]} | {licences[source.package]} |")
    lines.append(f"| **total** | | **{total}** | 100 % | {sum(found.values())} | {sum(duplicates.values())} | |")
    notes = [f"- skipped {k}: {v}" for k, v in skipped.items()]
    text = ("# Distillation corpus sources\n\nBuilt by `bench/corpus/build-corpus.py` from Debian packages (no other downloads). "
            "*found* = images that passed the filters after exact-duplicate removal; *images* = kept after the per-source caps "
            "and the cap on any one source's share. Licences are each package's `debian/copyright` in short form; "
            "per-file terms are in that file.\n\n" + "\n".join(lines) + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else ""))
    with open(os.path.join(out, "sources.md"), "w", encoding="utf-8") as f:
        f.write(text)
    log(f"wrote {total} images, {os.path.join(out, 'corpus.csv')} and sources.md")


if __name__ == "__main__":
    main()
