//! The thin JNI layer behind `android/`'s `org.taxa.Classifier`. It only
//! moves arguments across and calls [`crate::api`]; results cross as a flat
//! `String[]` that the Java class turns into plain objects. Errors and
//! panics become Java exceptions (`ThrowRuntimeExAndDefault`), which the
//! Java class rethrows as `TaxaException` with the message kept.
//!
//! The handle is a `Box<Arc<Classifier>>` pointer in a Java `long`; the Java
//! class guarantees no call runs during or after `close()`.

use std::sync::Arc;

use jni::objects::{JByteArray, JClass, JIntArray, JObjectArray, JString};
use jni::sys::{jfloat, jint, jlong};
use jni::{Env, EnvUnowned, errors::ThrowRuntimeExAndDefault};

use crate::api::{Classification, Classifier, ClassifyOptions, PixelFormat, TaxaFfiError};

#[derive(Debug, thiserror::Error)]
enum BridgeError {
    #[error("{0}")]
    Taxa(#[from] TaxaFfiError),
    #[error("JNI: {0}")]
    Jni(#[from] jni::errors::Error),
    #[error("{0}")]
    Argument(String),
}

type BridgeResult<T> = Result<T, BridgeError>;

fn optional_string(env: &Env<'_>, s: &JString<'_>) -> BridgeResult<Option<String>> {
    if s.is_null() { Ok(None) } else { Ok(Some(s.try_to_string(env)?)) }
}

/// Newline-separated list (labels never contain a newline).
fn lines(env: &Env<'_>, s: &JString<'_>) -> BridgeResult<Vec<String>> {
    Ok(optional_string(env, s)?.map(|t| t.lines().map(str::to_string).filter(|l| !l.is_empty()).collect()).unwrap_or_default())
}

fn classifier<'a>(handle: jlong) -> BridgeResult<&'a Arc<Classifier>> {
    if handle == 0 {
        return Err(BridgeError::Argument("the classifier is closed".into()));
    }
    // SAFETY: `handle` came from `into_handle` and the Java side frees it
    // only after every call using it has returned.
    Ok(unsafe { &*(handle as *const Arc<Classifier>) })
}

fn into_handle(classifier: Arc<Classifier>) -> jlong {
    Box::into_raw(Box::new(classifier)) as jlong
}

fn options(env: &Env<'_>, top_k: jint, min_score: jfloat, allow: &JString<'_>, deny: &JString<'_>, rollup_threshold: jfloat) -> BridgeResult<ClassifyOptions> {
    if top_k < 1 {
        return Err(BridgeError::Argument(format!("topK must be at least 1, got {top_k}")));
    }
    Ok(ClassifyOptions { top_k: top_k as u32, min_score, allow: lines(env, allow)?, deny: lines(env, deny)?, rollup_threshold, ..ClassifyOptions::default() })
}

/// Flattens a classification for the Java side. Layout (all strings, null
/// where absent): prediction count, then per prediction classIndex, label,
/// score, kingdom, phylum, class, order, family, genus, species, commonName;
/// then "1" and rank, name, score, lineage count, (rank, name, score)… for a
/// roll-up, or "0".
fn flatten(c: Classification) -> Vec<Option<String>> {
    let mut out = vec![Some(c.predictions.len().to_string())];
    for p in c.predictions {
        let t = p.taxon;
        out.extend([Some(p.class_index.to_string()), Some(p.label), Some(p.score.to_string())]);
        out.extend([t.kingdom, t.phylum, t.class_name, t.order, t.family, t.genus, Some(t.species), t.common_name]);
    }
    match c.rollup {
        None => out.push(Some("0".into())),
        Some(r) => {
            out.extend([Some("1".into()), Some(r.rank), Some(r.name), Some(r.score.to_string()), Some(r.lineage.len().to_string())]);
            for t in r.lineage {
                out.extend([Some(t.rank), Some(t.name), Some(t.score.to_string())]);
            }
        }
    }
    out
}

/// What both classify entry points share: the handle, the options, the
/// call itself (`run`), and the flat result.
fn classify_with<'local>(
    env: &mut Env<'local>,
    handle: jlong,
    (top_k, min_score, rollup_threshold): (jint, jfloat, jfloat),
    (allow, deny): (&JString<'_>, &JString<'_>),
    run: impl FnOnce(&mut Env<'local>, &Classifier, ClassifyOptions) -> BridgeResult<Classification>,
) -> BridgeResult<JObjectArray<'local, JString<'local>>> {
    let classifier = classifier(handle)?;
    let options = options(env, top_k, min_score, allow, deny, rollup_threshold)?;
    let result = run(env, classifier, options)?;
    string_array(env, flatten(result))
}

fn string_array<'local>(env: &mut Env<'local>, values: Vec<Option<String>>) -> BridgeResult<JObjectArray<'local, JString<'local>>> {
    let array = JObjectArray::<JString>::new(env, values.len(), JString::null())?;
    for (i, value) in values.into_iter().enumerate() {
        if let Some(v) = value {
            let s = JString::from_str(env, v)?;
            array.set_element(env, i, &s)?;
        }
    }
    Ok(array)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_Classifier_nativeLoadPath<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    model_path: JString<'local>,
    labels_path: JString<'local>,
) -> jlong {
    unowned_env
        .with_env(|env| -> BridgeResult<jlong> {
            let model = optional_string(env, &model_path)?.ok_or_else(|| BridgeError::Argument("modelPath is null".into()))?;
            let labels = optional_string(env, &labels_path)?;
            Ok(into_handle(Classifier::from_path(model, labels)?))
        })
        .resolve::<ThrowRuntimeExAndDefault>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_Classifier_nativeLoadBytes<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    model: JByteArray<'local>,
    labels: JString<'local>,
) -> jlong {
    unowned_env
        .with_env(|env| -> BridgeResult<jlong> {
            if model.is_null() {
                return Err(BridgeError::Argument("model bytes are null".into()));
            }
            let bytes = env.convert_byte_array(&model)?;
            let labels = if labels.is_null() { None } else { Some(lines(env, &labels)?) };
            Ok(into_handle(Classifier::from_bytes(bytes, labels)?))
        })
        .resolve::<ThrowRuntimeExAndDefault>()
}

#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_taxa_Classifier_nativeClassify<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    image: JByteArray<'local>,
    top_k: jint,
    min_score: jfloat,
    allow: JString<'local>,
    deny: JString<'local>,
    rollup_threshold: jfloat,
) -> JObjectArray<'local, JString<'local>> {
    unowned_env
        .with_env(|env| -> BridgeResult<JObjectArray<'local, JString<'local>>> {
            classify_with(env, handle, (top_k, min_score, rollup_threshold), (&allow, &deny), |env, classifier, options| {
                if image.is_null() {
                    return Err(BridgeError::Argument("image bytes are null".into()));
                }
                Ok(classifier.classify(env.convert_byte_array(&image)?, options)?)
            })
        })
        .resolve::<ThrowRuntimeExAndDefault>()
}

#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_taxa_Classifier_nativeClassifyArgb<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    argb: JIntArray<'local>,
    width: jint,
    height: jint,
    top_k: jint,
    min_score: jfloat,
    allow: JString<'local>,
    deny: JString<'local>,
    rollup_threshold: jfloat,
) -> JObjectArray<'local, JString<'local>> {
    unowned_env
        .with_env(|env| -> BridgeResult<JObjectArray<'local, JString<'local>>> {
            classify_with(env, handle, (top_k, min_score, rollup_threshold), (&allow, &deny), |env, classifier, options| {
                if argb.is_null() {
                    return Err(BridgeError::Argument("pixels are null".into()));
                }
                if width <= 0 || height <= 0 {
                    return Err(BridgeError::Argument(format!("size {width}×{height} has no pixels")));
                }
                let mut pixels = vec![0 as jint; argb.len(env)?];
                argb.get_region(env, 0, &mut pixels)?;
                // 0xAARRGGBB ints are B, G, R, A bytes in little-endian order.
                let bytes: Vec<u8> = pixels.iter().flat_map(|p| p.to_le_bytes()).collect();
                Ok(classifier.classify_pixels(width as u32, height as u32, width as u32 * 4, PixelFormat::Bgra8, bytes, options)?)
            })
        })
        .resolve::<ThrowRuntimeExAndDefault>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_Classifier_nativeLabels<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JObjectArray<'local, JString<'local>> {
    unowned_env
        .with_env(|env| -> BridgeResult<JObjectArray<'local, JString<'local>>> {
            let labels = classifier(handle)?.info().labels.into_iter().map(Some).collect();
            string_array(env, labels)
        })
        .resolve::<ThrowRuntimeExAndDefault>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_Classifier_nativeFree<'local>(mut unowned_env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) {
    unowned_env
        .with_env(|_env| -> BridgeResult<()> {
            if handle != 0 {
                // SAFETY: the Java side calls this once, after all other calls on the handle.
                drop(unsafe { Box::from_raw(handle as *mut Arc<Classifier>) });
            }
            Ok(())
        })
        .resolve::<ThrowRuntimeExAndDefault>()
}
