//! The tch module for a [`NetSpec`]: variables at torchvision's state-dict
//! paths, and a forward pass that interprets the spec node by node.

use std::collections::HashMap;

use tch::{Kind, Tensor, nn};

use super::{InitRule, NetSpec, Op, ParamKind, Value, same_padding};

#[derive(Debug)]
pub struct Network {
    spec: NetSpec,
    /// For each value, the last node that reads it: values are dropped then,
    /// so a no-grad pass holds only the live activations.
    last_use: Vec<usize>,
    /// Shallow clones of the var-store tensors, by state-dict key.
    params: HashMap<String, Tensor>,
    /// BatchNorm normalises with its running statistics in training too.
    batch_norm_frozen: bool,
}

impl Network {
    /// Creates the variables under `root` (normally `vs.root()`), initialised
    /// as torchvision does for training from scratch.
    pub fn new(root: &nn::Path, spec: NetSpec) -> Self {
        let mut params = HashMap::new();
        for param in spec.parameters() {
            let (modules, leaf) = param.name.rsplit_once('.').expect("keys are module.param");
            let path = modules.split('.').fold(root.clone(), |p, part| p.sub(part));
            let tensor = match (param.kind, param.init) {
                (ParamKind::Counter, _) => path.add(leaf, Tensor::zeros([], (Kind::Int64, root.device())), false),
                (ParamKind::Buffer, InitRule::Ones) => path.ones_no_train(leaf, &param.shape),
                (ParamKind::Buffer, _) => path.zeros_no_train(leaf, &param.shape),
                (ParamKind::Weight, init) => path.var(leaf, &param.shape, tch_init(init)),
            };
            params.insert(param.name, tensor);
        }
        let mut last_use: Vec<usize> = (0..spec.nodes.len()).collect();
        for (i, node) in spec.nodes.iter().enumerate() {
            for &input in &node.inputs {
                last_use[input] = last_use[input].max(i);
            }
        }
        Network { spec, last_use, params, batch_norm_frozen: false }
    }

    pub fn spec(&self) -> &NetSpec {
        &self.spec
    }

    /// The tensor behind a state-dict key.
    pub fn param(&self, name: &str) -> Option<&Tensor> {
        self.params.get(name)
    }

    /// The first parameter or buffer (state-dict key, in spec order) that
    /// holds NaN or an infinity; `None` when every value is finite. Counters
    /// (`num_batches_tracked`) are integers and always finite.
    pub fn first_non_finite(&self) -> Option<&str> {
        tch::no_grad(|| {
            self.spec.parameters().into_iter().find(|p| p.kind != ParamKind::Counter && self.params[&p.name].isfinite().all().to_kind(Kind::Int64).int64_value(&[]) == 0)
        })
        .map(|p| self.params.get_key_value(&p.name).expect("created in new").0.as_str())
    }

    /// Keeps BatchNorm on its running statistics while training (its scale
    /// and shift still train), as for weights whose BatchNorm was folded
    /// into the convolutions: their statistics are the identity, and batch
    /// statistics would renormalise features the network never saw normalised.
    pub fn set_batch_norm_frozen(&mut self, frozen: bool) {
        self.batch_norm_frozen = frozen;
    }

    /// Trains only the head (frozen backbone) or everything.
    pub fn set_backbone_trainable(&mut self, trainable: bool) {
        for p in self.spec.parameters() {
            if p.kind == ParamKind::Weight {
                let requires = trainable || self.spec.is_head_param(&p.name);
                let t = self.params.get_mut(&p.name).expect("created in new");
                *t = t.set_requires_grad(requires);
            }
        }
    }

    /// Stores 4-D weights in NHWC order (same shapes, other strides), so
    /// cuDNN picks its channels-last kernels; together with channels-last
    /// inputs this is PyTorch's `memory_format=torch.channels_last`.
    pub fn use_channels_last(&mut self) {
        tch::no_grad(|| {
            for t in self.params.values_mut() {
                if t.dim() == 4 {
                    t.set_data(&channels_last(t));
                }
            }
        });
    }

    /// State-dict keys of the parameters that currently train.
    pub fn trainable_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.params.iter().filter(|(_, t)| t.requires_grad()).map(|(n, _)| n.clone()).collect();
        names.sort();
        names
    }

    fn p(&self, module: &str, leaf: &str) -> &Tensor {
        &self.params[&format!("{module}.{leaf}")]
    }

    /// Runs the network on an NCHW batch.
    pub fn forward_t(&self, input: &Tensor, train: bool) -> Tensor {
        self.run_nodes(0, input, train, self.spec.nodes.len())
    }

    /// The value fed to the classification head: the backbone's output.
    pub fn backbone_output(&self) -> Value {
        let head = self.spec.nodes.iter().position(|n| match &n.op {
            Op::Linear { module, .. } | Op::Conv2d { module, .. } => *module == self.spec.head,
            _ => false,
        });
        let head = head.expect("every spec has a head node");
        // Skip back over a dropout that feeds the head: it belongs to the head's training.
        let mut v = self.spec.nodes[head].inputs[0];
        while let Op::Dropout { .. } = self.spec.nodes[v].op {
            v = self.spec.nodes[v].inputs[0];
        }
        v
    }

    /// The backbone alone: input → backbone output (frozen-mode features).
    pub fn forward_backbone(&self, input: &Tensor) -> Tensor {
        self.run_nodes(0, input, false, self.backbone_output() + 1)
    }

    /// The head alone, from backbone features.
    pub fn forward_head(&self, features: &Tensor, train: bool) -> Tensor {
        self.run_nodes(self.backbone_output(), features, train, self.spec.nodes.len())
    }

    /// Runs nodes `start..end`, with `input` as the value of node `start`.
    fn run_nodes(&self, start: Value, input: &Tensor, train: bool, end: usize) -> Tensor {
        let mut values: Vec<Option<Tensor>> = (0..end).map(|_| None).collect();
        values[start] = Some(input.shallow_clone());
        for (i, node) in self.spec.nodes.iter().enumerate().take(end).skip(start + 1) {
            let x = |k: usize| values[node.inputs[k]].as_ref().expect("head nodes only read values after the backbone output");
            let out = match &node.op {
                Op::Input => unreachable!("the input is node 0"),
                Op::Conv2d { module, stride, padding, groups, bias, .. } => {
                    let b = bias.then(|| self.p(module, "bias"));
                    x(0).conv2d(self.p(module, "weight"), b, [*stride, *stride], [*padding, *padding], [1, 1], *groups)
                }
                Op::BatchNorm2d { module, eps, momentum, .. } => {
                    let train = train && !self.batch_norm_frozen;
                    if train {
                        tch::no_grad(|| {
                            let _ = self.p(module, "num_batches_tracked").shallow_clone().g_add_scalar_(1);
                        });
                    }
                    x(0).batch_norm(
                        Some(self.p(module, "weight")),
                        Some(self.p(module, "bias")),
                        Some(self.p(module, "running_mean")),
                        Some(self.p(module, "running_var")),
                        train,
                        *momentum,
                        *eps,
                        true,
                    )
                }
                Op::Relu => x(0).relu(),
                // ATen's relu6 is hardtanh(0, 6), PyTorch's ReLU6 exactly.
                Op::Relu6 => x(0).relu6(),
                Op::SamePad { kernel, stride } => {
                    let (_, _, h, w) = x(0).size4().expect("NCHW");
                    let (top, bottom) = same_padding(h, *kernel, *stride);
                    let (left, right) = same_padding(w, *kernel, *stride);
                    if top + bottom + left + right == 0 { x(0).shallow_clone() } else { x(0).constant_pad_nd([left, right, top, bottom]) }
                }
                Op::DropConnect { p } if train && *p > 0.0 => {
                    // The reference's drop_connect: one Bernoulli(1 − p) per sample.
                    let keep = 1.0 - p;
                    let n = x(0).size()[0];
                    let mask = (Tensor::rand([n, 1, 1, 1], (x(0).kind(), x(0).device())) + keep).floor();
                    x(0) / keep * mask
                }
                Op::DropConnect { .. } => x(0).shallow_clone(),
                Op::MaxPool2d { kernel, stride, padding, ceil_mode } => {
                    x(0).max_pool2d([*kernel, *kernel], [*stride, *stride], [*padding, *padding], [1, 1], *ceil_mode)
                }
                Op::AvgPool2d { kernel, stride } => x(0).avg_pool2d([*kernel, *kernel], [*stride, *stride], [0, 0], false, true, None),
                Op::AdaptiveAvgPool2d { size } => x(0).adaptive_avg_pool2d([*size, *size]),
                Op::Flatten => x(0).flatten(1, -1),
                Op::Linear { module, .. } => x(0).linear(self.p(module, "weight"), Some(self.p(module, "bias"))),
                Op::Dropout { p } => x(0).dropout(*p, train),
                Op::Concat => Tensor::cat(&node.inputs.iter().map(|&v| values[v].as_ref().expect("computed")).collect::<Vec<_>>(), 1),
                Op::Add => x(0) + x(1),
                Op::ChannelShuffle { groups } => {
                    let (n, c, h, w) = x(0).size4().expect("NCHW");
                    x(0).view([n, *groups, c / groups, h, w]).transpose(1, 2).contiguous().view([n, c, h, w])
                }
                Op::ChannelSlice { start, end } => x(0).narrow(1, *start, end - start),
            };
            values[i] = Some(out);
            for &input in &node.inputs {
                if self.last_use[input] == i {
                    values[input] = None;
                }
            }
        }
        values[end - 1].take().expect("the last node ran")
    }
}

/// The same NCHW tensor laid out in memory as NHWC (tch 0.24 has no
/// memory-format API; this is what `channels_last` means underneath).
pub fn channels_last(t: &Tensor) -> Tensor {
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

impl nn::ModuleT for Network {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        Network::forward_t(self, xs, train)
    }
}

fn tch_init(rule: InitRule) -> nn::Init {
    match rule {
        InitRule::Zeros => nn::Init::Const(0.0),
        InitRule::Ones => nn::Init::Const(1.0),
        InitRule::Kaiming => nn::init::DEFAULT_KAIMING_UNIFORM,
        InitRule::SmallNormal => nn::Init::Randn { mean: 0.0, stdev: 0.01 },
        InitRule::FanInUniform { fan_in } => {
            let bound = 1.0 / (fan_in as f64).sqrt();
            nn::Init::Uniform { lo: -bound, up: bound }
        }
    }
}
