//! The architecture table: every network taxa builds, once, with its
//! torchvision constructor name, its spec constructor, the resolution its
//! published weights were trained at and its preprocessing contract.

use taxa_core::PreprocessContract;

use super::*;

/// One architecture taxa builds.
#[derive(Debug, Clone, Copy)]
pub struct Architecture {
    /// torchvision's constructor name (`shufflenet_v2_x1_0`), which is also
    /// the `--arch` value and the bundle's `architecture`.
    pub name: &'static str,
    /// The spec for a number of classes.
    pub build: fn(i64) -> NetSpec,
    /// The square input size (pixels) the published weights were trained at.
    pub native_input_size: u32,
    /// The preprocessing the published weights expect, at a square input
    /// size in pixels: what export and training write into a bundle unless
    /// told otherwise.
    pub contract: fn(u32) -> PreprocessContract,
}

const fn imagenet(name: &'static str, build: fn(i64) -> NetSpec) -> Architecture {
    Architecture { name, build, native_input_size: 224, contract: PreprocessContract::imagenet_sized }
}

const fn lite(name: &'static str, build: fn(i64) -> NetSpec, variant: usize) -> Architecture {
    Architecture { name, build, native_input_size: efficientnet_lite::resolution(variant), contract: efficientnet_lite::contract }
}

/// Every architecture taxa builds. torchvision's take the ImageNet recipe
/// (shorter side to size × 256/224, centre crop, bilinear, torchvision's
/// mean and std); the Lite family takes `(pixel − 127) / 128`;
/// `mobilenet_v2_tf` (TensorFlow's padding, for TensorFlow-trained weights)
/// the whole photo and `(pixel − 128) / 128`.
pub const ARCHITECTURES: [Architecture; 18] = [
    imagenet("alexnet", alexnet),
    imagenet("densenet121", densenet121),
    imagenet("densenet161", densenet161),
    imagenet("densenet169", densenet169),
    imagenet("densenet201", densenet201),
    imagenet("squeezenet1_0", squeezenet1_0),
    imagenet("squeezenet1_1", squeezenet1_1),
    imagenet("shufflenet_v2_x0_5", shufflenet_v2_x0_5),
    imagenet("shufflenet_v2_x1_0", shufflenet_v2_x1_0),
    imagenet("shufflenet_v2_x1_5", shufflenet_v2_x1_5),
    imagenet("shufflenet_v2_x2_0", shufflenet_v2_x2_0),
    imagenet("resnext50_32x4d", resnext50_32x4d),
    imagenet("resnext101_32x8d", resnext101_32x8d),
    imagenet("mobilenet_v2", mobilenet_v2),
    Architecture { name: "mobilenet_v2_tf", build: mobilenet_v2_tf, native_input_size: 224, contract: mobilenet_v2_tf_contract },
    lite("efficientnet_lite0", efficientnet_lite0, 0),
    lite("efficientnet_lite1", efficientnet_lite1, 1),
    lite("efficientnet_lite2", efficientnet_lite2, 2),
];

/// The table entry of a named architecture.
pub fn architecture(name: &str) -> Option<&'static Architecture> {
    ARCHITECTURES.iter().find(|a| a.name == name)
}

/// The names in the table, in its order.
pub fn architecture_names() -> impl Iterator<Item = &'static str> {
    ARCHITECTURES.iter().map(|a| a.name)
}

/// The spec for a named architecture, or `None` for an unknown name.
pub fn spec_for(arch: &str, num_classes: i64) -> Option<NetSpec> {
    architecture(arch).map(|a| (a.build)(num_classes))
}

/// The input size an architecture's published weights were trained at:
/// 224 for torchvision's (and unknown names), 224/240/260 for
/// EfficientNet-Lite0/1/2.
pub fn native_input_size(arch: &str) -> u32 {
    architecture(arch).map_or(224, |a| a.native_input_size)
}

/// The preprocessing an architecture's published weights expect, at
/// `input_size` (square, pixels); the ImageNet recipe for an unknown name.
pub fn preprocess_contract(arch: &str, input_size: u32) -> PreprocessContract {
    architecture(arch).map_or_else(|| PreprocessContract::imagenet_sized(input_size), |a| (a.contract)(input_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_builds_its_own_architecture() {
        for a in &ARCHITECTURES {
            assert_eq!((a.build)(3).arch, a.name);
        }
        assert_eq!(native_input_size("efficientnet_lite2"), 260);
        assert_eq!(native_input_size("resnext50_32x4d"), 224);
        assert_eq!(preprocess_contract("efficientnet_lite0", 224).mean, [127.0 / 255.0; 3]);
        assert!(spec_for("resnet50", 3).is_none());
    }
}
