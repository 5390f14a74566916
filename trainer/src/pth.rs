//! Reads PyTorch `torch.save` state dicts (`.pth`/`.pt`, the zip format of
//! torch ≥ 1.6). libtorch's own loader, which tch wraps, rejects the
//! `OrderedDict` that `model.state_dict()` is, and that is what torchvision's
//! published weights are. This is a small pickle machine for exactly that
//! shape: a dict of tensors, rebuilt from the archive's storages.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use tch::{Kind, Tensor};

#[derive(Debug, Clone)]
enum Value {
    None,
    /// A bool or float: read, never needed.
    Scalar,
    Int(i64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String, String),
    /// A storage reference from a persistent id: (dtype, archive key).
    Storage(Kind, String),
    Tensor { storage: Box<Value>, offset: i64, size: Vec<i64>, stride: Vec<i64> },
    /// Any other reduced object; its contents do not matter here.
    Opaque,
    Mark,
}

fn err(message: impl Into<String>) -> String {
    message.into()
}

/// Loads every tensor of a zip-format `torch.save` file, by key.
pub fn read_pth(path: &Path) -> Result<Vec<(String, Tensor)>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| err(format!("not a zip-format torch.save file ({e}); re-save it with torch ≥ 1.6 or as .safetensors")))?;
    let pickle_name = (0..zip.len())
        .filter_map(|i| zip.by_index(i).ok().map(|f| f.name().to_string()))
        .find(|n| n.ends_with("data.pkl"))
        .ok_or_else(|| err("no data.pkl in the archive"))?;
    let prefix = pickle_name.trim_end_matches("data.pkl").to_string();
    let mut pickle = Vec::new();
    zip.by_name(&pickle_name).map_err(|e| e.to_string())?.read_to_end(&mut pickle).map_err(|e| e.to_string())?;
    let root = unpickle(&pickle)?;
    let Value::Dict(entries) = root else { return Err(err("the pickle is not a dict of tensors (save model.state_dict())")) };

    let mut storages: HashMap<String, Tensor> = HashMap::new();
    let mut out = Vec::new();
    for (key, value) in entries {
        let Value::Str(key) = key else { return Err(err("a state-dict key is not a string")) };
        let Value::Tensor { storage, offset, size, stride } = value else { continue };
        let Value::Storage(kind, storage_key) = *storage else { return Err(err(format!("{key}: tensor without storage"))) };
        if !storages.contains_key(&storage_key) {
            let mut bytes = Vec::new();
            zip.by_name(&format!("{prefix}data/{storage_key}"))
                .map_err(|e| err(format!("{key}: storage {storage_key}: {e}")))?
                .read_to_end(&mut bytes)
                .map_err(|e| e.to_string())?;
            let element = kind.elt_size_in_bytes();
            if bytes.len() % element != 0 {
                return Err(err(format!("{key}: storage {storage_key} has {} bytes, not a multiple of {element}", bytes.len())));
            }
            let storage = Tensor::f_from_data_size(&bytes, &[(bytes.len() / element) as i64], kind).map_err(|e| e.to_string())?;
            storages.insert(storage_key.clone(), storage);
        }
        let storage = &storages[&storage_key];
        let needed = offset + size.iter().zip(&stride).map(|(n, s)| (n - 1).max(0) * s).sum::<i64>() + 1;
        if size.iter().all(|n| *n > 0) && needed > storage.size()[0] {
            return Err(err(format!("{key}: shape {size:?} overruns its storage")));
        }
        let tensor = storage.f_as_strided(size.as_slice(), stride.as_slice(), Some(offset)).map_err(|e| e.to_string())?.contiguous();
        out.push((key, tensor));
    }
    Ok(out)
}

fn storage_kind(name: &str) -> Result<Kind, String> {
    Ok(match name {
        "FloatStorage" => Kind::Float,
        "DoubleStorage" => Kind::Double,
        "HalfStorage" => Kind::Half,
        "BFloat16Storage" => Kind::BFloat16,
        "LongStorage" => Kind::Int64,
        "IntStorage" => Kind::Int,
        "ShortStorage" => Kind::Int16,
        "CharStorage" => Kind::Int8,
        "ByteStorage" => Kind::Uint8,
        "BoolStorage" => Kind::Bool,
        other => return Err(err(format!("unsupported storage type {other}"))),
    })
}

fn unpickle(data: &[u8]) -> Result<Value, String> {
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    let mut pos = 0usize;
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], String> {
        let slice = data.get(*pos..*pos + n).ok_or_else(|| err("truncated pickle"))?;
        *pos += n;
        Ok(slice)
    };
    let pop = |stack: &mut Vec<Value>| stack.pop().ok_or_else(|| err("pickle stack underflow"));
    let pop_mark = |stack: &mut Vec<Value>| -> Result<Vec<Value>, String> {
        let mark = stack.iter().rposition(|v| matches!(v, Value::Mark)).ok_or_else(|| err("pickle MARK missing"))?;
        let items = stack.split_off(mark + 1);
        stack.pop();
        Ok(items)
    };
    loop {
        let op = take(&mut pos, 1)?[0];
        match op {
            0x80 => {
                take(&mut pos, 1)?; // PROTO
            }
            0x95 => {
                take(&mut pos, 8)?; // FRAME
            }
            b'}' => stack.push(Value::Dict(Vec::new())),
            b']' => stack.push(Value::List(Vec::new())),
            b')' => stack.push(Value::Tuple(Vec::new())),
            b'(' => stack.push(Value::Mark),
            b'N' => stack.push(Value::None),
            0x88 | 0x89 => stack.push(Value::Scalar),
            b'K' => stack.push(Value::Int(take(&mut pos, 1)?[0] as i64)),
            b'M' => stack.push(Value::Int(u16::from_le_bytes(take(&mut pos, 2)?.try_into().unwrap()) as i64)),
            b'J' => stack.push(Value::Int(i32::from_le_bytes(take(&mut pos, 4)?.try_into().unwrap()) as i64)),
            0x8a => {
                // LONG1: little-endian two's complement of n bytes.
                let n = take(&mut pos, 1)?[0] as usize;
                let bytes = take(&mut pos, n)?;
                if n > 8 {
                    return Err(err("integer too large"));
                }
                let mut v: i64 = 0;
                for (i, b) in bytes.iter().enumerate() {
                    v |= (*b as i64) << (8 * i);
                }
                if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                stack.push(Value::Int(v));
            }
            b'G' => {
                take(&mut pos, 8)?;
                stack.push(Value::Scalar);
            }
            b'X' => {
                let n = u32::from_le_bytes(take(&mut pos, 4)?.try_into().unwrap()) as usize;
                stack.push(Value::Str(String::from_utf8_lossy(take(&mut pos, n)?).into_owned()));
            }
            0x8c => {
                let n = take(&mut pos, 1)?[0] as usize;
                stack.push(Value::Str(String::from_utf8_lossy(take(&mut pos, n)?).into_owned()));
            }
            b'c' => {
                let mut line = || -> Result<String, String> {
                    let end = data[pos..].iter().position(|b| *b == b'\n').ok_or_else(|| err("truncated GLOBAL"))?;
                    let s = String::from_utf8_lossy(&data[pos..pos + end]).into_owned();
                    pos += end + 1;
                    Ok(s)
                };
                let module = line()?;
                let name = line()?;
                stack.push(Value::Global(module, name));
            }
            b'q' => {
                let k = take(&mut pos, 1)?[0] as u32;
                memo.insert(k, stack.last().cloned().ok_or_else(|| err("BINPUT on empty stack"))?);
            }
            b'r' => {
                let k = u32::from_le_bytes(take(&mut pos, 4)?.try_into().unwrap());
                memo.insert(k, stack.last().cloned().ok_or_else(|| err("LONG_BINPUT on empty stack"))?);
            }
            b'h' => {
                let k = take(&mut pos, 1)?[0] as u32;
                stack.push(memo.get(&k).cloned().ok_or_else(|| err("BINGET of unknown memo"))?);
            }
            b'j' => {
                let k = u32::from_le_bytes(take(&mut pos, 4)?.try_into().unwrap());
                stack.push(memo.get(&k).cloned().ok_or_else(|| err("LONG_BINGET of unknown memo"))?);
            }
            b't' => {
                let items = pop_mark(&mut stack)?;
                stack.push(Value::Tuple(items));
            }
            0x85 | 0x86 | 0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err(err("pickle stack underflow"));
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b'a' => {
                let v = pop(&mut stack)?;
                if let Some(Value::List(list)) = stack.last_mut() {
                    list.push(v);
                }
            }
            b'e' => {
                let items = pop_mark(&mut stack)?;
                if let Some(Value::List(list)) = stack.last_mut() {
                    list.extend(items);
                }
            }
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                if let Some(Value::Dict(d)) = stack.last_mut() {
                    d.push((k, v));
                }
            }
            b'u' => {
                let items = pop_mark(&mut stack)?;
                if let Some(Value::Dict(d)) = stack.last_mut() {
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        d.push((k, v));
                    }
                }
            }
            b'Q' => {
                // BINPERSID: ('storage', storage_type, key, location, numel)
                let pid = pop(&mut stack)?;
                let Value::Tuple(items) = pid else { return Err(err("persistent id is not a tuple")) };
                match items.as_slice() {
                    [Value::Str(tag), Value::Global(_, storage_type), Value::Str(key), ..] if tag == "storage" => {
                        stack.push(Value::Storage(storage_kind(storage_type)?, key.clone()));
                    }
                    _ => return Err(err("unsupported persistent id")),
                }
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let callable = pop(&mut stack)?;
                let value = match (callable, args) {
                    (Value::Global(m, n), Value::Tuple(args)) if m == "torch._utils" && n == "_rebuild_tensor_v2" => {
                        let ints = |v: &Value| -> Result<Vec<i64>, String> {
                            match v {
                                Value::Tuple(xs) => xs.iter().map(|x| if let Value::Int(i) = x { Ok(*i) } else { Err(err("non-integer shape")) }).collect(),
                                _ => Err(err("shape is not a tuple")),
                            }
                        };
                        match args.as_slice() {
                            [storage @ Value::Storage(..), Value::Int(offset), size, stride, ..] => {
                                Value::Tensor { storage: Box::new(storage.clone()), offset: *offset, size: ints(size)?, stride: ints(stride)? }
                            }
                            _ => return Err(err("unexpected _rebuild_tensor_v2 arguments")),
                        }
                    }
                    (Value::Global(m, n), _) if m == "collections" && n == "OrderedDict" => Value::Dict(Vec::new()),
                    _ => Value::Opaque,
                };
                stack.push(value);
            }
            b'b' => {
                pop(&mut stack)?; // BUILD: attribute state (e.g. `_metadata`) is not needed.
            }
            b'.' => return pop(&mut stack),
            other => return Err(err(format!("unsupported pickle opcode 0x{other:02x} at byte {}", pos - 1))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(unpickle(b"").unwrap_err().contains("truncated"));
        assert!(unpickle(b"\x80\x02\xff").unwrap_err().contains("0xff"));
        assert!(unpickle(b"\x80\x02}u.").unwrap_err().contains("MARK"));
        assert!(unpickle(b"\x80\x02s.").unwrap_err().contains("underflow"));
    }

    #[test]
    fn small_pickles_decode() {
        // {'a': 1, 'b': (2, -3)} with protocol 2.
        let v = unpickle(b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02K\x02J\xfd\xff\xff\xff\x86q\x03u.").unwrap();
        let Value::Dict(items) = v else { panic!("{v:?}") };
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[1].1, Value::Tuple(t) if matches!(t[1], Value::Int(-3))));
    }
}
