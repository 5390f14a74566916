//! The synthetic species: a taxonomy spread over iNaturalist's iconic
//! groups, and how each species is drawn.

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

use super::SynthOptions;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// Frog-like: oval body with four legs.
    Frog,
    /// Beetle-like: oval body with a head and a wing seam.
    Beetle,
    /// Flower: k petals around a disc.
    Flower(u32),
    /// Mushroom: cap over a stem.
    Mushroom,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Pattern {
    Plain,
    Spots,
    Stripes,
    Ring,
}

/// One synthetic species: its lineage and how it looks.
#[derive(Debug, Clone)]
pub struct SynthSpecies {
    pub lineage: [String; 6],
    pub name: String,
    shape: Shape,
    aspect: f32,
    colour: [f32; 3],
    pattern: Pattern,
    pattern_colour: [f32; 3],
}

const GROUPS: [(&str, &str, &str, &str); 4] = [
    ("Animalia", "Chordata", "Amphibia", "Anura"),
    ("Animalia", "Arthropoda", "Insecta", "Coleoptera"),
    ("Plantae", "Tracheophyta", "Magnoliopsida", "Asterales"),
    ("Fungi", "Basidiomycota", "Agaricomycetes", "Agaricales"),
];
const SYLLABLES: [&str; 16] = ["ra", "na", "bu", "fo", "li", "ca", "tor", "mex", "pul", "vi", "sa", "lon", "gri", "da", "mo", "the"];

fn latin(rng: &mut StdRng, syllables: usize, ending: &str) -> String {
    let mut s: String = (0..syllables).map(|_| *SYLLABLES.choose(rng).expect("non-empty")).collect();
    s.push_str(ending);
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let c = v * s;
    let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
    let (r, g, b) = match (h as u32 / 60) % 6 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
}

/// The taxonomy: species spread over the iconic groups, two families a
/// group, genera of two or three species.
pub fn make_taxonomy(options: &SynthOptions) -> Vec<SynthSpecies> {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut species = Vec::with_capacity(options.species);
    let mut genus_index = 0usize;
    while species.len() < options.species {
        let (kingdom, phylum, class, order) = GROUPS[genus_index % GROUPS.len()];
        let family = latin(&mut StdRng::seed_from_u64(options.seed ^ ((genus_index as u64 % 8) * 7919)), 2, "idae");
        let genus = latin(&mut rng, 2, "us");
        let shape = match kingdom {
            "Plantae" => Shape::Flower(rng.random_range(4..9)),
            "Fungi" => Shape::Mushroom,
            _ if class == "Insecta" => Shape::Beetle,
            _ => Shape::Frog,
        };
        let aspect = rng.random_range(0.6..1.0);
        let base_hue: f32 = rng.random_range(0.0..360.0);
        let in_genus = rng.random_range(2..4).min(options.species - species.len());
        for k in 0..in_genus {
            let hue = (base_hue + k as f32 * 360.0 / in_genus as f32 * 0.6) % 360.0;
            let pattern = [Pattern::Plain, Pattern::Spots, Pattern::Stripes, Pattern::Ring][(k + genus_index) % 4];
            species.push(SynthSpecies {
                lineage: [kingdom, phylum, class, order].map(String::from).into_iter().chain([family.clone(), genus.clone()]).collect::<Vec<_>>().try_into().expect("six ranks"),
                name: format!("{genus} {}", latin(&mut rng, 2, "a").to_lowercase()),
                shape,
                aspect,
                colour: hsv(hue, rng.random_range(0.5..0.9), rng.random_range(0.55..0.95)),
                pattern,
                pattern_colour: hsv((hue + 180.0) % 360.0, 0.3, rng.random_range(0.1..0.95)),
            });
        }
        genus_index += 1;
    }
    species
}

/// Draws one photo of `species`.
pub fn render(species: &SynthSpecies, size: u32, seed: u64) -> RgbImage {
    let mut rng = StdRng::seed_from_u64(seed);
    let s = size as f32;
    let bg_top = hsv(rng.random_range(60.0..140.0), rng.random_range(0.2..0.6), rng.random_range(0.25..0.6));
    let bg_bottom = hsv(rng.random_range(20.0..60.0), rng.random_range(0.2..0.6), rng.random_range(0.2..0.5));
    let light: f32 = rng.random_range(0.7..1.25);
    let (cx, cy) = (rng.random_range(0.35..0.65) * s, rng.random_range(0.35..0.65) * s);
    let radius = rng.random_range(0.22..0.36) * s;
    let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
    let (sin, cos) = angle.sin_cos();
    let spot_phase: f32 = rng.random_range(0.0..6.0);
    let noise_seed = rng.random::<u64>();
    let mut noise = StdRng::seed_from_u64(noise_seed);
    RgbImage::from_fn(size, size, |x, y| {
        let t = y as f32 / s;
        let mut px: [f32; 3] = [0, 1, 2].map(|c| bg_top[c] * (1.0 - t) + bg_bottom[c] * t);
        // Body coordinates: rotated, normalised by the radius.
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let (u, v) = ((dx * cos + dy * sin) / radius, (-dx * sin + dy * cos) / radius);
        if let Some(in_pattern) = body(species, u, v, spot_phase) {
            let colour = if in_pattern { species.pattern_colour } else { species.colour };
            let shade = 0.85 + 0.15 * (1.0 - (u * u + v * v).min(1.0));
            px = colour.map(|c| c * shade);
        }
        Rgb([0, 1, 2].map(|c| (px[c] * light + noise.random_range(-10.0..10.0)).clamp(0.0, 255.0) as u8))
    })
}

/// Whether (u, v) is on the body, and then whether it is in the pattern.
fn body(sp: &SynthSpecies, u: f32, v: f32, phase: f32) -> Option<bool> {
    let a = sp.aspect;
    let r2 = u * u + (v / a) * (v / a);
    let on = match sp.shape {
        Shape::Frog => r2 <= 0.6 || ((u.abs() - 0.7).abs() < 0.12 && (v.abs() - 0.45 * a).abs() < 0.25),
        Shape::Beetle => r2 <= 0.7 || (u - 0.95).powi(2) + v * v <= 0.06,
        Shape::Flower(k) => {
            let r = (u * u + v * v).sqrt();
            let theta = v.atan2(u);
            r <= 0.25 || r <= 0.55 + 0.4 * ((k as f32 * theta / 2.0).cos().abs())
        }
        Shape::Mushroom => (v < 0.0 && u * u + (v / 0.6).powi(2) <= 0.8) || (u.abs() < 0.18 && (0.0..0.8).contains(&v)),
    };
    if !on {
        return None;
    }
    let in_pattern = match sp.pattern {
        Pattern::Plain => false,
        Pattern::Spots => ((u * 4.0 + phase).sin() * (v * 4.0 + phase).cos()) > 0.55,
        Pattern::Stripes => ((u * 6.0 + phase).sin()) > 0.4,
        Pattern::Ring => (0.3..0.45).contains(&r2),
    };
    Some(in_pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taxonomy_groups_species_into_genera_sharing_a_shape() {
        let options = SynthOptions::default();
        let taxa = make_taxonomy(&options);
        assert_eq!(taxa.len(), 24);
        for a in &taxa {
            for b in &taxa {
                if a.lineage[5] == b.lineage[5] {
                    assert_eq!(a.shape, b.shape);
                    assert_eq!(a.lineage[..5], b.lineage[..5]);
                }
            }
        }
        let genera: std::collections::HashSet<_> = taxa.iter().map(|t| &t.lineage[5]).collect();
        assert!(genera.len() >= 8 && genera.len() < 24, "{} genera", genera.len());
    }

    #[test]
    fn renders_are_deterministic_and_varied() {
        let taxa = make_taxonomy(&SynthOptions::default());
        assert_eq!(render(&taxa[0], 64, 1), render(&taxa[0], 64, 1));
        assert_ne!(render(&taxa[0], 64, 1), render(&taxa[0], 64, 2));
    }
}
