//! Measures the NNEF cache issue 22 asked to try: the typed graph written
//! beside the bundle in tract's NNEF format, read back at load instead of
//! parsing the ONNX file and typing it. Prints one JSON line per model:
//! the ONNX path's `parse` + `type` against reading the NNEF file, the
//! bytes of each, and what both load paths give in total (medians of
//! `--runs` loads, milliseconds, one thread).
//!
//! The cached graph is the typed one before taxa's kernels go in (they
//! are load-time only, with no NNEF form), and after the ONNX rewrites.
//!
//! Usage: `cargo run --release -p taxa-core --example nnef_cache -- [--runs 5] MODEL.onnx...`

use std::time::Instant;

use taxa_core::{BundleMetadata, graph_rewrite};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{ensure, format_err};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> TractResult<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 5;
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args.get(i + 1).and_then(|r| r.parse().ok()).ok_or_else(|| format_err!("--runs takes a number"))?;
        args.drain(i..i + 2);
    }
    ensure!(!args.is_empty(), "usage: nnef_cache [--runs 5] MODEL.onnx...");
    let nnef = tract_nnef::nnef().with_onnx();
    for path in &args {
        let bytes = std::fs::read(path)?;
        let proto = taxa_core::bundle::decode_model(&bytes)?;
        let metadata = BundleMetadata::from_model_proto(&proto)?.ok_or_else(|| format_err!("{path}: not a taxa bundle"))?;
        let shape = metadata.preprocess.input_shape().map_err(|e| format_err!("{e}"))?;
        let rewrites: Vec<_> = graph_rewrite::enabled().into_iter().filter(|r| !matches!(r, graph_rewrite::Rewrite::ConcatBarrier)).collect();
        let (rewritten, _) = graph_rewrite::rewrite(&proto, shape, &rewrites);
        let fact: InferenceFact = if metadata.preprocess.input_type == taxa_core::preprocess::InputType::Uint8 {
            u8::fact(shape).into()
        } else {
            f32::fact(shape).into()
        };
        let typed_from_onnx = || -> TractResult<TypedModel> {
            let mut model = tract_onnx::onnx().model_for_proto_model(&rewritten)?;
            model.set_input_fact(0, fact.clone())?;
            model.into_typed()
        };
        let mut tar = vec![];
        if let Err(e) = nnef.write_to_tar(&typed_from_onnx()?, &mut tar) {
            // tract has no NNEF form for some of its own operators.
            println!("{}", serde_json::json!({"model": path, "nnef_write_error": format!("{e:#}")}));
            continue;
        }
        let (mut onnx_ms, mut nnef_ms, mut onnx_total, mut nnef_total) = (vec![], vec![], vec![], vec![]);
        for _ in 0..runs {
            let start = Instant::now();
            let typed = typed_from_onnx()?;
            onnx_ms.push(start.elapsed().as_secs_f64() * 1e3);
            typed.into_optimized()?.into_runnable()?;
            onnx_total.push(start.elapsed().as_secs_f64() * 1e3);
            let start = Instant::now();
            let typed = nnef.model_for_read(&mut &tar[..])?;
            nnef_ms.push(start.elapsed().as_secs_f64() * 1e3);
            typed.into_optimized()?.into_runnable()?;
            nnef_total.push(start.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "{}",
            serde_json::json!({
                "model": path, "runs": runs,
                "onnx_bytes": bytes.len(), "nnef_tar_bytes": tar.len(),
                "onnx_parse_and_type_ms": median(onnx_ms), "nnef_read_ms": median(nnef_ms),
                "onnx_to_plan_ms": median(onnx_total), "nnef_to_plan_ms": median(nnef_total),
            })
        );
    }
    Ok(())
}
