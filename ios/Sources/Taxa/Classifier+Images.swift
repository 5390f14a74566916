import CoreGraphics
import CoreVideo
import Foundation

// Conveniences over the generated API for iOS apps: bundled models and CGImages.
public extension Classifier {
    /// Loads a model bundle shipped in the app (e.g. `species.onnx`).
    /// `threads`: threads each image's inference runs on (default 1; 0 throws
    /// `TaxaFfiError.InvalidArgument`). Classifying several images at once
    /// multiplies it: keep `threads` × images in flight at or below the cores.
    static func bundled(named name: String, in bundle: Bundle = .main, threads: UInt32 = 1) throws -> Classifier {
        guard let path = bundle.path(forResource: name, ofType: "onnx") else {
            throw TaxaFfiError.Io(message: "\(name).onnx is not in the app bundle")
        }
        return try Classifier.fromPath(modelPath: path, labelsPath: nil, threads: threads)
    }

    /// Classifies a CGImage (a photo or a camera frame) by drawing it into RGBA pixels.
    func classify(cgImage image: CGImage, options: ClassifyOptions = defaultOptions()) throws -> Classification {
        let width = image.width
        let height = image.height
        let stride = width * 4
        var pixels = [UInt8](repeating: 0, count: stride * height)
        let drawn: Bool = pixels.withUnsafeMutableBytes { buffer in
            guard let context = CGContext(
                data: buffer.baseAddress, width: width, height: height, bitsPerComponent: 8,
                bytesPerRow: stride, space: CGColorSpaceCreateDeviceRGB(),
                bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue
            ) else { return false }
            context.draw(image, in: CGRect(x: 0, y: 0, width: width, height: height))
            return true
        }
        guard drawn else {
            throw TaxaFfiError.InvalidImage(message: "cannot draw a \(width)×\(height) image into RGBA pixels")
        }
        return try classifyPixels(
            width: UInt32(width), height: UInt32(height), rowStride: UInt32(stride),
            format: .rgba8, pixels: Data(pixels), options: options)
    }

    /// Classifies a camera frame in the camera's own bi-planar YUV 4:2:0
    /// (`kCVPixelFormatType_420YpCbCr8BiPlanarFullRange` or `...VideoRange`,
    /// BT.601), e.g. an `AVCaptureVideoDataOutput` sample buffer's image
    /// buffer. `rotationDegrees` is how far the buffer must turn clockwise to
    /// stand upright (90 for the back camera in portrait with the default
    /// landscape buffers). Pass a `ScoreSmoother` to average the last frames.
    /// The two planes are copied once into `Data` for the call; only the
    /// model's crop window is converted to RGB.
    func classify(
        pixelBuffer: CVPixelBuffer, rotationDegrees: Int32 = 0, smoother: ScoreSmoother? = nil,
        options: ClassifyOptions = defaultOptions()
    ) throws -> Classification {
        let format = CVPixelBufferGetPixelFormatType(pixelBuffer)
        let range: YuvRange
        switch format {
        case kCVPixelFormatType_420YpCbCr8BiPlanarFullRange: range = .full
        case kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange: range = .video
        default:
            throw TaxaFfiError.InvalidArgument(message: "pixel buffer format \(format) is not bi-planar YUV 4:2:0")
        }
        CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }
        func plane(_ index: Int) throws -> (Data, UInt32) {
            guard let base = CVPixelBufferGetBaseAddressOfPlane(pixelBuffer, index) else {
                throw TaxaFfiError.InvalidArgument(message: "pixel buffer plane \(index) has no base address")
            }
            let stride = CVPixelBufferGetBytesPerRowOfPlane(pixelBuffer, index)
            let rows = CVPixelBufferGetHeightOfPlane(pixelBuffer, index)
            return (Data(bytes: base, count: stride * rows), UInt32(stride))
        }
        let (y, yStride) = try plane(0)
        let (chroma, chromaStride) = try plane(1)
        return try classifyBiPlanar(
            width: UInt32(CVPixelBufferGetWidth(pixelBuffer)), height: UInt32(CVPixelBufferGetHeight(pixelBuffer)),
            y: y, yRowStride: yStride, chroma: chroma, chromaRowStride: chromaStride, order: .cbCr, range: range,
            rotationDegrees: rotationDegrees, smoother: smoother, options: options)
    }
}
