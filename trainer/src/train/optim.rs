//! SGD with momentum and AdamW, written out so their state can be saved in
//! checkpoints: a resumed run continues exactly where it stopped.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adamw,
}

/// The optimiser over named parameters (state-dict keys).
pub struct Optimizer {
    kind: OptimizerKind,
    momentum: f64,
    weight_decay: f64,
    step: i64,
    /// SGD: momentum buffer. AdamW: first moment.
    first: HashMap<String, Tensor>,
    /// AdamW: second moment.
    second: HashMap<String, Tensor>,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

impl Optimizer {
    pub fn new(kind: OptimizerKind, momentum: f64, weight_decay: f64) -> Self {
        Optimizer { kind, momentum, weight_decay, step: 0, first: HashMap::new(), second: HashMap::new() }
    }

    /// One update of every parameter that has a gradient; clears the gradients.
    pub fn step(&mut self, params: &[(String, Tensor)], lr: f64) {
        self.step += 1;
        tch::no_grad(|| {
            for (name, p) in params {
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                let mut p = p.shallow_clone();
                match self.kind {
                    OptimizerKind::Sgd => {
                        // PyTorch SGD: buf = μ·buf + g + wd·p; p -= lr·buf. In place
                        // on the buffer: big layers (AlexNet's) are memory-bound.
                        let mut buf = self.first.remove(name).unwrap_or_else(|| grad.zeros_like());
                        let _ = buf.g_mul_scalar_(self.momentum);
                        let _ = buf.g_add_(&grad);
                        if self.weight_decay != 0.0 {
                            let _ = buf.g_add_(&(&p * self.weight_decay));
                        }
                        let _ = p.g_sub_(&(&buf * lr));
                        self.first.insert(name.clone(), buf);
                    }
                    OptimizerKind::Adamw => {
                        let _ = p.g_mul_scalar_(1.0 - lr * self.weight_decay);
                        let m = self.first.remove(name).unwrap_or_else(|| grad.zeros_like()) * BETA1 + &grad * (1.0 - BETA1);
                        let v = self.second.remove(name).unwrap_or_else(|| grad.zeros_like()) * BETA2 + (&grad * &grad) * (1.0 - BETA2);
                        let m_hat = &m / (1.0 - BETA1.powi(self.step as i32));
                        let v_hat = &v / (1.0 - BETA2.powi(self.step as i32));
                        let _ = p.g_sub_(&(m_hat / (v_hat.sqrt() + EPS) * lr));
                        self.first.insert(name.clone(), m);
                        self.second.insert(name.clone(), v);
                    }
                }
                let mut g = grad;
                let _ = g.zero_();
            }
        });
    }

    pub fn save(&self, path: &Path) -> Result<(), tch::TchError> {
        // Buffers follow their gradients' strides (channels-last on CUDA);
        // safetensors holds only contiguous tensors.
        let host = |t: &Tensor| t.to_device(tch::Device::Cpu).contiguous();
        let mut named: Vec<(String, Tensor)> = Vec::new();
        for (k, t) in &self.first {
            named.push((format!("first.{k}"), host(t)));
        }
        for (k, t) in &self.second {
            named.push((format!("second.{k}"), host(t)));
        }
        named.push(("step".into(), Tensor::from_slice(&[self.step]).to_kind(Kind::Int64)));
        taxa_core::atomic::write_atomic_with(path, |tmp| Tensor::write_safetensors(&named, tmp).map_err(std::io::Error::other))
            .map_err(|e| tch::TchError::FileFormat(format!("{}: {e}", path.display())))
    }

    pub fn load(&mut self, path: &Path, device: tch::Device) -> Result<(), tch::TchError> {
        self.first.clear();
        self.second.clear();
        for (name, t) in Tensor::read_safetensors(path)? {
            if name == "step" {
                self.step = t.int64_value(&[0]);
            } else if let Some(k) = name.strip_prefix("first.") {
                self.first.insert(k.to_string(), t.to_device(device));
            } else if let Some(k) = name.strip_prefix("second.") {
                self.second.insert(k.to_string(), t.to_device(device));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_matches_hand_computation() {
        let p = Tensor::from_slice(&[1.0f32, -2.0]).set_requires_grad(true);
        let params = vec![("w".to_string(), p.shallow_clone())];
        let mut opt = Optimizer::new(OptimizerKind::Sgd, 0.9, 0.0);
        for _ in 0..2 {
            let loss = (&p * &p).sum(Kind::Float); // grad = 2p
            loss.backward();
            opt.step(&params, 0.1);
        }
        // step 1: g = (2, -4), buf = g, p = (0.8, -1.6)
        // step 2: g = (1.6, -3.2), buf = 0.9·(2, -4) + g = (3.4, -6.8), p = (0.46, -0.92)
        let got = Vec::<f32>::try_from(&p.detach()).unwrap();
        assert!((got[0] - 0.46).abs() < 1e-6 && (got[1] + 0.92).abs() < 1e-6, "{got:?}");
    }

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        let params = vec![("w".to_string(), p.shallow_clone())];
        let mut opt = Optimizer::new(OptimizerKind::Adamw, 0.9, 0.01);
        (&p * &p).sum(Kind::Float).backward();
        opt.step(&params, 0.01);
        opt.save(&dir.path().join("o.safetensors")).unwrap();
        let mut again = Optimizer::new(OptimizerKind::Adamw, 0.9, 0.01);
        again.load(&dir.path().join("o.safetensors"), tch::Device::Cpu).unwrap();
        assert_eq!(again.step, 1);
        assert!(again.first["w"].equal(&opt.first["w"]) && again.second["w"].equal(&opt.second["w"]));
    }

    #[test]
    fn channels_last_state_saves() {
        // What CUDA training holds: a momentum buffer with NHWC strides.
        let dir = tempfile::tempdir().unwrap();
        let nchw = Tensor::randn([2, 3, 4, 5], (Kind::Float, tch::Device::Cpu));
        let channels_last = nchw.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]);
        assert!(!channels_last.is_contiguous());
        let mut opt = Optimizer::new(OptimizerKind::Sgd, 0.9, 0.0);
        opt.first.insert("w".into(), channels_last);
        opt.save(&dir.path().join("o.safetensors")).unwrap();
        let mut again = Optimizer::new(OptimizerKind::Sgd, 0.9, 0.0);
        again.load(&dir.path().join("o.safetensors"), tch::Device::Cpu).unwrap();
        assert!(again.first["w"].equal(&nchw));
    }
}
