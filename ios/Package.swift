// swift-tools-version:5.9
// The taxa Swift package: the UniFFI-generated Swift API (Sources/Taxa) over
// the taxa-ffi static library in TaxaFFI.xcframework. Run
// ./build-xcframework.sh on a Mac first; it writes both.
import PackageDescription

let package = Package(
    name: "Taxa",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Taxa", targets: ["Taxa"]),
    ],
    targets: [
        .binaryTarget(name: "TaxaFFI", path: "TaxaFFI.xcframework"),
        .target(name: "Taxa", dependencies: ["TaxaFFI"], path: "Sources/Taxa"),
    ]
)
