#!/usr/bin/env bash
# Cross-compiles libtaxa_ffi.so for the Android ABIs into src/main/jniLibs.
# Needs: the Android NDK (ANDROID_NDK_HOME), `cargo install cargo-ndk`, and
#   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
set -euo pipefail
cd "$(dirname "$0")"
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to your NDK (e.g. \$ANDROID_HOME/ndk/27.2.12479018)}"
cargo ndk \
    --platform 24 \
    -t arm64-v8a -t armeabi-v7a -t x86_64 \
    -o src/main/jniLibs \
    build --profile mobile --locked -p taxa-ffi --lib --no-default-features
# Only the shared library is packaged.
find src/main/jniLibs -type f ! -name 'libtaxa_ffi.so' -delete
