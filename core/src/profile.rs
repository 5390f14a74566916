//! Per-node timing of a loaded model: which nodes of tract's optimised plan
//! take the time, their input and output shapes, and the operator (with the
//! kernel, for matrix products) tract chose. The same measurement as
//! `tract --profile`: each node's evaluation timed in turn, one thread.

use std::time::{Duration, Instant};

use serde::Serialize;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{EvalContext, OpState};
use tract_onnx::tract_core::plan::eval;

/// One node of the optimised plan.
#[derive(Debug, Clone, Serialize)]
pub struct NodeProfile {
    /// The plan's node id.
    pub id: usize,
    /// The node's name: the ONNX node it came from, with tract's suffixes.
    pub name: String,
    /// tract's operator, e.g. `OptMatMul`, `DepthWise`, `MaxPool`.
    pub op: String,
    /// What tract says about it: for `OptMatMul` the m, k, n and the kernel
    /// it picked (e.g. `avx512_mmm_f32_32x12`), for convolutions the geometry.
    pub info: Vec<String>,
    /// Shapes of the node's inputs and outputs, as evaluated.
    pub input_shapes: Vec<Vec<usize>>,
    pub output_shapes: Vec<Vec<usize>>,
    /// Median over the runs, milliseconds.
    pub median_ms: f64,
}

/// A model's profile: every evaluated node, slowest first.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub runs: usize,
    /// The sum of the nodes' medians, milliseconds.
    pub total_ms: f64,
    pub nodes: Vec<NodeProfile>,
}

/// How long each phase of loading a model took, in the order they ran
/// ([`crate::Classifier::load_profile`]). Phases: `read` (the file and its
/// protobuf), `checks` (metadata, external data), `onnx rewrites`
/// ([`crate::graph_rewrite`]), `parse` (tract's ONNX model), `type` (tract's
/// typed model), `kernels` (constants propagated, taxa's kernels put in),
/// `declutter`, `codegen` (tract's two optimisers), `plan` (the runnable
/// plan), `outputs` (its output checked against the labels). Empty in the
/// browser's wasm32 build, which has no clock.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadProfile {
    pub phases: Vec<LoadPhase>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadPhase {
    pub phase: &'static str,
    /// Milliseconds.
    pub ms: f64,
}

impl LoadProfile {
    /// The phases' sum, milliseconds.
    pub fn total_ms(&self) -> f64 {
        self.phases.iter().map(|p| p.ms).sum()
    }
}

/// Times consecutive load phases. The browser's wasm32 has no clock
/// (`Instant::now` panics there), so its profile stays empty.
pub(crate) struct LoadClock {
    last: Option<Instant>,
    profile: LoadProfile,
}

fn now() -> Option<Instant> {
    if cfg!(all(target_arch = "wasm32", target_os = "unknown")) { None } else { Some(Instant::now()) }
}

impl LoadClock {
    pub(crate) fn start() -> Self {
        LoadClock { last: now(), profile: LoadProfile::default() }
    }

    /// Ends the phase `phase`, which ran since the last lap.
    pub(crate) fn lap(&mut self, phase: &'static str) {
        let (Some(last), Some(now)) = (self.last, now()) else { return };
        self.profile.phases.push(LoadPhase { phase, ms: (now - last).as_secs_f64() * 1000.0 });
        self.last = Some(now);
    }

    pub(crate) fn finish(self) -> LoadProfile {
        self.profile
    }
}

/// Runs `plan` `runs` times on `input` (after one untimed run), timing each node.
pub(crate) fn profile_plan(plan: &Arc<TypedRunnableModel>, input: TValue, runs: usize) -> TractResult<Profile> {
    let model = plan.model();
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(runs); model.nodes().len()];
    // Per node, once seen: (input shapes, output shapes).
    type NodeShapes = (Vec<Vec<usize>>, Vec<Vec<usize>>);
    let mut shapes: Vec<Option<NodeShapes>> = vec![None; model.nodes().len()];
    for run in 0..=runs {
        let mut state = plan.spawn()?;
        state.run_plan_with_eval(
            tvec![input.clone()],
            |ctx: &EvalContext, op_state: Option<&mut (dyn OpState + 'static)>, node: &TypedNode, inputs: TVec<TValue>| {
                let input_shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape().to_vec()).collect();
                let start = Instant::now();
                let outputs = eval(ctx, op_state, node, inputs)?;
                let elapsed = start.elapsed();
                if run > 0 {
                    times[node.id].push(elapsed);
                } else {
                    shapes[node.id] = Some((input_shapes, outputs.iter().map(|t| t.shape().to_vec()).collect()));
                }
                Ok::<_, TractError>(outputs)
            },
        )?;
    }
    let mut nodes = vec![];
    for (id, mut samples) in times.into_iter().enumerate() {
        let Some((input_shapes, output_shapes)) = shapes[id].take() else { continue };
        if samples.is_empty() {
            continue;
        }
        samples.sort();
        let node = model.node(id);
        nodes.push(NodeProfile {
            id,
            name: node.name.clone(),
            op: node.op().name().to_string(),
            info: node.op().info().unwrap_or_default(),
            input_shapes,
            output_shapes,
            median_ms: samples[samples.len() / 2].as_secs_f64() * 1000.0,
        });
    }
    nodes.sort_by(|a, b| b.median_ms.total_cmp(&a.median_ms));
    let total_ms = nodes.iter().map(|n| n.median_ms).sum();
    Ok(Profile { runs, total_ms, nodes })
}
