//! The preprocessing contract the user states for an import, and how it
//! fills in what the model does not say.

use taxa_core::PreprocessContract;
use taxa_core::preprocess::{ChannelOrder, Crop, Interpolation, Resize};

use super::ImportError;

/// How the resize step treats the photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeChoice {
    /// The whole photo to the input size, aspect ratio not kept (the TFLite
    /// Task Library's, and taxa's default for TFLite).
    Stretch,
    /// Shorter side to input / `crop_fraction`, then a centre crop
    /// (torchvision's, and the default for ONNX).
    Crop,
}

/// What the user states about the preprocessing; `None` keeps the model's own
/// (TFLite metadata and quantisation, the ONNX graph's declared input) or the default.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractChoices {
    /// Per channel (RGB), in units of `pixel / value_scale`, as `taxa inspect` prints them.
    pub mean: Option<[f32; 3]>,
    pub std: Option<[f32; 3]>,
    /// What 8-bit pixels are divided by before mean and std (default 255).
    pub value_scale: Option<f32>,
    /// (width, height) in pixels.
    pub input_size: Option<(u32, u32)>,
    pub resize: Option<ResizeChoice>,
    /// The centre crop's share of the resized shorter side (default 0.875, 224 of 256).
    pub crop_fraction: f64,
    pub channel_order: Option<ChannelOrder>,
    pub interpolation: Option<Interpolation>,
}

impl Default for ContractChoices {
    fn default() -> Self {
        ContractChoices {
            mean: None,
            std: None,
            value_scale: None,
            input_size: None,
            resize: None,
            crop_fraction: 0.875,
            channel_order: None,
            interpolation: None,
        }
    }
}

impl ContractChoices {
    /// Resize, crop and interpolation for a `width`×`height` input.
    pub(super) fn geometry(&self, width: u32, height: u32, default: ResizeChoice) -> Result<PreprocessContract, ImportError> {
        if !(self.crop_fraction > 0.0 && self.crop_fraction <= 1.0) {
            return Err(ImportError::Contract(format!("--crop-fraction {} is outside (0, 1]", self.crop_fraction)));
        }
        let mut contract = PreprocessContract::imagenet();
        match self.resize.unwrap_or(default) {
            ResizeChoice::Stretch => {
                contract.resize = Resize::Stretch { width, height };
                contract.crop = Crop::None;
            }
            ResizeChoice::Crop => {
                let size = (width.max(height) as f64 / self.crop_fraction).round() as u32;
                contract.resize = Resize::ShorterSide { size };
                contract.crop = Crop::Center { width, height };
            }
        }
        contract.interpolation = self.interpolation.unwrap_or(Interpolation::Bilinear);
        contract.channel_order = self.channel_order.unwrap_or(ChannelOrder::Rgb);
        Ok(contract)
    }

    pub(super) fn states_normalization(&self) -> bool {
        self.mean.is_some() || self.std.is_some() || self.value_scale.is_some()
    }

    /// `contract` with the stated mean, std and value scale, each defaulting to `fallback`'s.
    pub(super) fn normalized(&self, mut contract: PreprocessContract, fallback: ([f32; 3], [f32; 3], f32)) -> Result<PreprocessContract, ImportError> {
        contract.mean = self.mean.unwrap_or(fallback.0);
        contract.std = self.std.unwrap_or(fallback.1);
        contract.value_scale = self.value_scale.unwrap_or(fallback.2);
        contract.validate().map_err(ImportError::Contract)?;
        Ok(contract)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_geometry_follows_the_choice() {
        let choices = ContractChoices::default();
        let stretch = choices.geometry(224, 224, ResizeChoice::Stretch).unwrap();
        assert_eq!((stretch.resize, stretch.crop), (Resize::Stretch { width: 224, height: 224 }, Crop::None));
        let crop = ContractChoices { resize: Some(ResizeChoice::Crop), ..Default::default() }.geometry(224, 224, ResizeChoice::Stretch).unwrap();
        assert_eq!((crop.resize, crop.crop), (Resize::ShorterSide { size: 256 }, Crop::Center { width: 224, height: 224 }));
        assert!(ContractChoices { crop_fraction: 1.5, ..Default::default() }.geometry(224, 224, ResizeChoice::Crop).is_err());
    }
}
