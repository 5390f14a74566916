import CoreGraphics
import Foundation

// Conveniences over the generated API for iOS apps: bundled models and CGImages.
public extension Classifier {
    /// Loads a model bundle shipped in the app (e.g. `species.onnx`).
    static func bundled(named name: String, in bundle: Bundle = .main) throws -> Classifier {
        guard let path = bundle.path(forResource: name, ofType: "onnx") else {
            throw TaxaFfiError.Io(message: "\(name).onnx is not in the app bundle")
        }
        return try Classifier.fromPath(modelPath: path, labelsPath: nil)
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
}
