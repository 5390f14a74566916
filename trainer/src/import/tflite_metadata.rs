//! TFLite model metadata: the `TFLITE_METADATA` buffer (tflite-support's
//! `metadata_schema.fbs`, file identifier `M001`) and the associated files
//! (label files) zipped onto the end of the `.tflite`.
//!
//! tract-tflite carries the model schema but not this one, and no crate
//! ships it; the few tables read here are declared with the `flatbuffers`
//! runtime's own `Table`, `Follow` and `Verifier`, the way `flatc` writes
//! them, and every buffer is verified before a field is read.

use std::io::Read;

use flatbuffers::{Follow, ForwardsUOffset, InvalidFlatbuffer, Table, Vector, Verifiable, Verifier};

/// Declares a read-only table: its fields are `name: type = vtable slot`
/// (slot = 4 + 2 × the field's index in the schema).
macro_rules! table {
    ($name:ident { $($field:ident : $ty:ty = $slot:expr),* $(,)? }) => {
        #[derive(Clone, Copy)]
        pub(crate) struct $name<'a> {
            tab: Table<'a>,
        }

        impl<'a> Follow<'a> for $name<'a> {
            type Inner = Self;
            unsafe fn follow(buf: &'a [u8], loc: usize) -> Self {
                // SAFETY: the caller's contract (a verified position in `buf`).
                Self { tab: unsafe { Table::new(buf, loc) } }
            }
        }

        impl<'a> Verifiable for $name<'a> {
            fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
                v.visit_table(pos)?$(.visit_field::<$ty>(stringify!($field), $slot, false)?)*.finish();
                Ok(())
            }
        }

        impl<'a> $name<'a> {
            $(
                pub(crate) fn $field(&self) -> Option<<$ty as Follow<'a>>::Inner> {
                    // SAFETY: tables are only reached through `flatbuffers::root`,
                    // which ran `run_verifier` over this field first.
                    unsafe { self.tab.get::<$ty>($slot, None) }
                }
            )*
        }
    };
}

type Str<'a> = ForwardsUOffset<&'a str>;
type Tables<'a, T> = ForwardsUOffset<Vector<'a, ForwardsUOffset<T>>>;

table!(ModelMetadata {
    name: Str<'a> = 4,
    description: Str<'a> = 6,
    version: Str<'a> = 8,
    subgraph_metadata: Tables<'a, SubGraphMetadata<'a>> = 10,
    author: Str<'a> = 12,
    license: Str<'a> = 14,
});

table!(SubGraphMetadata {
    input_tensor_metadata: Tables<'a, TensorMetadata<'a>> = 8,
    output_tensor_metadata: Tables<'a, TensorMetadata<'a>> = 10,
});

table!(TensorMetadata {
    process_units: Tables<'a, ProcessUnit<'a>> = 12,
    associated_files: Tables<'a, AssociatedFile<'a>> = 16,
});

table!(AssociatedFile {
    name: Str<'a> = 4,
    file_type: i8 = 8,
    locale: Str<'a> = 10,
});

table!(NormalizationOptions {
    mean: ForwardsUOffset<Vector<'a, f32>> = 4,
    std: ForwardsUOffset<Vector<'a, f32>> = 6,
});

/// `ProcessUnit { options: ProcessUnitOptions }`: a union, of which only
/// `NormalizationOptions` (union type 1) is read.
#[derive(Clone, Copy)]
pub(crate) struct ProcessUnit<'a> {
    tab: Table<'a>,
}

const OPTIONS_TYPE_SLOT: u16 = 4;
const OPTIONS_SLOT: u16 = 6;
const NORMALIZATION_OPTIONS: u8 = 1;

impl<'a> Follow<'a> for ProcessUnit<'a> {
    type Inner = Self;
    unsafe fn follow(buf: &'a [u8], loc: usize) -> Self {
        // SAFETY: the caller's contract (a verified position in `buf`).
        Self { tab: unsafe { Table::new(buf, loc) } }
    }
}

impl Verifiable for ProcessUnit<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_union::<u8, _>("options_type", OPTIONS_TYPE_SLOT, "options", OPTIONS_SLOT, false, |kind, v, pos| {
                match kind {
                    NORMALIZATION_OPTIONS => v.verify_union_variant::<ForwardsUOffset<NormalizationOptions>>("NormalizationOptions", pos),
                    // Not read, so not followed.
                    _ => Ok(()),
                }
            })?
            .finish();
        Ok(())
    }
}

impl<'a> ProcessUnit<'a> {
    pub(crate) fn normalization(&self) -> Option<NormalizationOptions<'a>> {
        // SAFETY: verified with the union's type above (reached through `flatbuffers::root`).
        unsafe {
            if self.tab.get::<u8>(OPTIONS_TYPE_SLOT, Some(0))? != NORMALIZATION_OPTIONS {
                return None;
            }
            self.tab.get::<ForwardsUOffset<NormalizationOptions>>(OPTIONS_SLOT, None)
        }
    }
}

/// `AssociatedFileType::TENSOR_AXIS_LABELS`: one label per output class.
const TENSOR_AXIS_LABELS: i8 = 2;

/// What the metadata says, as plain values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TfliteMetadata {
    pub name: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
    pub author: Option<String>,
    pub license: Option<String>,
    /// The first input's normalisation, `(x − mean) / std` per channel
    /// (one value means every channel), in the input's units (0–255 pixels).
    pub input_mean: Option<Vec<f32>>,
    pub input_std: Option<Vec<f32>>,
    /// The first output's label file (`TENSOR_AXIS_LABELS`), by name in the
    /// associated files; the first one without a locale wins, else the first.
    pub labels_file: Option<String>,
}

/// Reads the metadata flatbuffer. Errors: the verifier's description of
/// what is damaged.
pub fn parse_metadata(buffer: &[u8]) -> Result<TfliteMetadata, String> {
    let root = flatbuffers::root::<ModelMetadata>(buffer).map_err(|e| e.to_string())?;
    let text = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let mut metadata = TfliteMetadata {
        name: text(root.name()),
        description: text(root.description()),
        version: text(root.version()),
        author: text(root.author()),
        license: text(root.license()),
        ..Default::default()
    };
    let Some(subgraph) = root.subgraph_metadata().filter(|s| !s.is_empty()).map(|s| s.get(0)) else {
        return Ok(metadata);
    };
    if let Some(input) = subgraph.input_tensor_metadata().filter(|t| !t.is_empty()).map(|t| t.get(0)) {
        for unit in input.process_units().iter().flatten() {
            if let Some(normalization) = unit.normalization() {
                metadata.input_mean = normalization.mean().map(|v| v.iter().collect());
                metadata.input_std = normalization.std().map(|v| v.iter().collect());
            }
        }
    }
    if let Some(output) = subgraph.output_tensor_metadata().filter(|t| !t.is_empty()).map(|t| t.get(0)) {
        let labels: Vec<AssociatedFile> =
            output.associated_files().iter().flatten().filter(|f| f.file_type() == Some(TENSOR_AXIS_LABELS)).collect();
        let chosen = labels.iter().find(|f| f.locale().is_none_or(str::is_empty)).or(labels.first());
        metadata.labels_file = chosen.and_then(|f| text(f.name()));
    }
    Ok(metadata)
}

/// Reads one file from the zip appended to a `.tflite`. `Ok(None)` when the
/// model has no zip or the zip has no such file; `Err` when the zip is
/// damaged or the file is not UTF-8 text.
pub fn read_associated_file(model: &[u8], name: &str) -> Result<Option<String>, String> {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(model)) else {
        return Ok(None);
    };
    let mut file = match archive.by_name(name) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(format!("associated file `{name}`: {e}")),
    };
    // Label files are small; a damaged size must not reserve gigabytes.
    const LIMIT: u64 = 64 << 20;
    if file.size() > LIMIT {
        return Err(format!("associated file `{name}` is {} bytes, over the {LIMIT}-byte limit", file.size()));
    }
    let mut bytes = Vec::new();
    file.by_ref().take(LIMIT).read_to_end(&mut bytes).map_err(|e| format!("associated file `{name}`: {e}"))?;
    String::from_utf8(bytes).map(Some).map_err(|_| format!("associated file `{name}` is not UTF-8 text"))
}
