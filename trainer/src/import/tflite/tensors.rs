//! A TFLite tensor as the converter reads it: shape, type, quantisation and
//! constant data, checked against each other once so the operators can
//! trust them.

use tract_tflite::tflite::{self, TensorType};

use crate::import::ImportError;

/// A tensor's quantisation: `real = scale × (q − zero_point)`, per tensor
/// (one scale) or per channel along `axis`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Quantization {
    pub(super) scale: Vec<f32>,
    pub(super) zero_point: Vec<i64>,
    pub(super) axis: usize,
}

impl Quantization {
    /// Scale and zero point of element `i` of axis `axis`.
    pub(super) fn at(&self, channel: usize) -> (f32, i64) {
        let pick = |n: usize| if n == 1 { 0 } else { channel };
        (self.scale[pick(self.scale.len())], self.zero_point.get(pick(self.zero_point.len())).copied().unwrap_or(0))
    }
}

#[derive(Debug)]
pub(super) struct TensorInfo<'a> {
    pub(super) name: String,
    pub(super) shape: Vec<i64>,
    pub(super) kind: TensorType,
    pub(super) quantization: Option<Quantization>,
    /// Constant data (weights), little-endian, when the tensor has a buffer.
    pub(super) data: Option<&'a [u8]>,
}

impl<'a> TensorInfo<'a> {
    pub(super) fn read(t: &tflite::Tensor<'a>, buffers: Option<&flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<tflite::Buffer<'a>>>>) -> Result<Self, ImportError> {
        let name = t.name().unwrap_or("").to_string();
        let shape: Vec<i64> = t.shape().map(|s| s.iter().map(i64::from).collect()).unwrap_or_default();
        if shape.iter().any(|&d| d < 0) {
            return Err(ImportError::Unsupported(format!("tensor `{name}` has a dynamic shape {shape:?}")));
        }
        let quantization = t.quantization().and_then(|q| {
            let scale: Vec<f32> = q.scale()?.iter().collect();
            if scale.is_empty() {
                return None;
            }
            let zero_point: Vec<i64> = q.zero_point().map(|z| z.iter().collect()).unwrap_or_default();
            Some(Quantization { scale, zero_point, axis: q.quantized_dimension().max(0) as usize })
        });
        if let Some(q) = &quantization
            && (q.scale.iter().any(|s| !s.is_finite() || *s <= 0.0) || (q.zero_point.len() > 1 && q.zero_point.len() != q.scale.len()))
        {
            return Err(ImportError::Damaged(format!("tensor `{name}` has an invalid quantisation")));
        }
        let data = buffers
            .filter(|b| t.buffer() != 0 && (t.buffer() as usize) < b.len())
            .and_then(|b| b.get(t.buffer() as usize).data())
            .map(|d| d.bytes())
            .filter(|d| !d.is_empty());
        let info = TensorInfo { name, shape, kind: t.type_(), quantization, data };
        if let Some(data) = info.data {
            let expected = info.elements() * info.element_size()?;
            if data.len() != expected {
                return Err(ImportError::Damaged(format!(
                    "constant `{}` {:?} holds {} bytes, expected {expected}",
                    info.name,
                    info.shape,
                    data.len()
                )));
            }
        }
        Ok(info)
    }

    fn elements(&self) -> usize {
        self.shape.iter().map(|&d| d as usize).product()
    }

    fn element_size(&self) -> Result<usize, ImportError> {
        Ok(match self.kind {
            TensorType::UINT8 | TensorType::INT8 => 1,
            TensorType::FLOAT16 => 2,
            TensorType::FLOAT32 | TensorType::INT32 => 4,
            TensorType::INT64 => 8,
            other => return Err(self.unsupported_type(other)),
        })
    }

    pub(super) fn unsupported_type(&self, kind: TensorType) -> ImportError {
        ImportError::Unsupported(format!(
            "tensor `{}` is {}; taxa imports float32, float16, uint8 and int8 tensors",
            self.name,
            kind.variant_name().unwrap_or("of an unknown type")
        ))
    }

    /// A quantised activation (uint8 or int8 with a scale).
    pub(super) fn is_quantized(&self) -> bool {
        matches!(self.kind, TensorType::UINT8 | TensorType::INT8) && self.quantization.is_some()
    }

    /// The constant's values as real numbers (dequantised; float16 widened).
    pub(super) fn real_values(&self) -> Result<Vec<f32>, ImportError> {
        let data = self.data.ok_or_else(|| ImportError::Unsupported(format!("`{}` must be a constant", self.name)))?;
        let raw: Vec<f64> = match self.kind {
            TensorType::FLOAT32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect(),
            TensorType::FLOAT16 => data.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])) as f64).collect(),
            TensorType::INT32 => data.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect(),
            TensorType::INT64 => data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()) as f64).collect(),
            TensorType::UINT8 => data.iter().map(|&b| b as f64).collect(),
            TensorType::INT8 => data.iter().map(|&b| b as i8 as f64).collect(),
            other => return Err(self.unsupported_type(other)),
        };
        let Some(q) = self.quantization.as_ref().filter(|_| matches!(self.kind, TensorType::UINT8 | TensorType::INT8 | TensorType::INT32)) else {
            return Ok(raw.into_iter().map(|v| v as f32).collect());
        };
        let channels = self.shape.get(q.axis).copied().unwrap_or(1).max(1) as usize;
        let inner: usize = self.shape.iter().skip(q.axis + 1).map(|&d| d as usize).product();
        Ok(raw
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let (scale, zero) = q.at(i / inner.max(1) % channels);
                ((v - zero as f64) * scale as f64) as f32
            })
            .collect())
    }

    /// The constant as integers (shapes, axes, paddings).
    pub(super) fn int_values(&self) -> Result<Vec<i64>, ImportError> {
        let data = self.data.ok_or_else(|| ImportError::Unsupported(format!("`{}` must be a constant", self.name)))?;
        Ok(match self.kind {
            TensorType::INT32 => data.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64).collect(),
            TensorType::INT64 => data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default())).collect(),
            other => return Err(self.unsupported_type(other)),
        })
    }
}

/// IEEE half to single precision (float16 weights of TFLite's fp16 models).
fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exponent = ((bits >> 10) & 0x1f) as u32;
    let mantissa = (bits & 0x3ff) as u32;
    let value = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: m × 2^-24.
            let magnitude = m as f32 * 2f32.powi(-24);
            return if sign != 0 { -magnitude } else { magnitude };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(value)
}

pub(super) fn bad_zero(t: &TensorInfo) -> ImportError {
    ImportError::Damaged(format!("tensor `{}` has a zero point outside its type", t.name))
}

/// An initializer name: the TFLite name (often long and shared) with the
/// tensor's index, so two tensors never collide.
pub(super) fn onnx_name(name: &str, index: usize) -> String {
    let short: String = name.rsplit(';').next().unwrap_or(name).chars().take(80).collect();
    format!("t{index}:{short}")
}

/// Reorders the axes of a row-major array: output axis `i` is source axis `permutation[i]`.
pub(super) fn permute<T: Copy>(values: &[T], shape: &[i64], permutation: &[usize]) -> Vec<T> {
    let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let mut strides = vec![1usize; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        strides[a] = strides[a + 1] * shape[a + 1];
    }
    let out_shape: Vec<usize> = permutation.iter().map(|&a| shape[a]).collect();
    let out_strides: Vec<usize> = permutation.iter().map(|&a| strides[a]).collect();
    let mut out = Vec::with_capacity(values.len());
    let mut index = vec![0usize; out_shape.len()];
    for _ in 0..values.len() {
        out.push(values[index.iter().zip(&out_strides).map(|(i, s)| i * s).sum::<usize>()]);
        for a in (0..index.len()).rev() {
            index[a] += 1;
            if index[a] < out_shape[a] {
                break;
            }
            index[a] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_moves_axes() {
        // A 2×3 matrix transposed.
        assert_eq!(permute(&[1, 2, 3, 4, 5, 6], &[2, 3], &[1, 0]), vec![1, 4, 2, 5, 3, 6]);
        // OHWI [1,1,2,2] → OIHW: the two input channels become planes.
        assert_eq!(permute(&[10, 20, 11, 21], &[1, 1, 2, 2], &[0, 3, 1, 2]), vec![10, 11, 20, 21]);
    }

    #[test]
    fn half_floats_widen_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7c00).is_infinite());
    }
}
