#!/usr/bin/env bash
# Builds TaxaFFI.xcframework (device + simulator static libraries, headers
# and module map) and generates the Swift bindings into Sources/Taxa.
# Needs macOS with Xcode and:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
set -euo pipefail
IOS_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$IOS_DIR/.." && pwd)"
BUILD="$IOS_DIR/build"
cd "$ROOT"

for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
    # JPEG, PNG and WebP only (taxa-core's GIF, BMP and TIFF features off): smaller.
    cargo build --profile mobile --locked -p taxa-ffi --lib --no-default-features --target "$target"
done

# Swift bindings and the C header come from the host library's metadata.
cargo build --release --locked -p taxa-ffi -p taxa-uniffi-bindgen
rm -rf "$BUILD" && mkdir -p "$BUILD/generated" "$BUILD/headers" "$BUILD/sim"
target/release/uniffi-bindgen generate --library target/release/libtaxa_ffi.dylib \
    --language swift --out-dir "$BUILD/generated"
cp "$BUILD/generated/taxa_ffiFFI.h" "$BUILD/headers/"
cp "$BUILD/generated/taxa_ffiFFI.modulemap" "$BUILD/headers/module.modulemap"
cp "$BUILD/generated/taxa_ffi.swift" "$IOS_DIR/Sources/Taxa/taxa_ffi.swift"

# One simulator library for both simulator architectures.
lipo -create \
    target/aarch64-apple-ios-sim/mobile/libtaxa_ffi.a \
    target/x86_64-apple-ios/mobile/libtaxa_ffi.a \
    -output "$BUILD/sim/libtaxa_ffi.a"

rm -rf "$IOS_DIR/TaxaFFI.xcframework"
xcodebuild -create-xcframework \
    -library target/aarch64-apple-ios/mobile/libtaxa_ffi.a -headers "$BUILD/headers" \
    -library "$BUILD/sim/libtaxa_ffi.a" -headers "$BUILD/headers" \
    -output "$IOS_DIR/TaxaFFI.xcframework"
echo "built $IOS_DIR/TaxaFFI.xcframework and Sources/Taxa/taxa_ffi.swift"
