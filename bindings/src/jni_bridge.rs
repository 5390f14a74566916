//! The thin JNI layer behind `android/`'s `org.taxa.Classifier` and
//! `org.taxa.ScoreSmoother`. It moves arguments across, calls
//! [`crate::api`] (or taxa-core directly for camera frames, which it reads
//! in place from direct `ByteBuffer`s), and builds the Java result objects
//! (`Classification`, `Prediction`, `TaxonScore` with a `Rank` enum) with
//! `NewObject`: no string protocol, scores stay `float`.
//!
//! Errors become `org.taxa.TaxaException` carrying a `TaxaException.Kind`
//! (the [`TaxaFfiError`] variant); a panic, caught by jni-rs's `with_env`
//! and [`crate::api`]'s guard, becomes kind `INTERNAL`. Nothing unwinds
//! into the JVM.
//!
//! Handles are `Box<Arc<Classifier>>` / `Box<ScoreSmoother>` pointers in a
//! Java `long`; the Java classes guarantee no call runs during or after
//! `close()`.

use std::sync::Arc;

use jni::errors::ErrorPolicy;
use jni::objects::{JByteArray, JByteBuffer, JClass, JIntArray, JObject, JObjectArray, JString, JThrowable, JValue};
use jni::strings::JNIString;
use jni::sys::{jboolean, jint, jlong};
use jni::{Env, EnvUnowned, jni_sig, jni_str};

use crate::api::{Classification, Classifier, ClassifyOptions, PixelFormat, ScoreSmoother, TaxaFfiError};

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

impl BridgeError {
    /// The `TaxaException.Kind` constant this error throws as.
    fn kind(&self) -> &'static jni::strings::JNIStr {
        match self {
            BridgeError::Taxa(TaxaFfiError::InvalidImage { .. }) => jni_str!("INVALID_IMAGE"),
            BridgeError::Taxa(TaxaFfiError::InvalidModel { .. }) => jni_str!("INVALID_MODEL"),
            BridgeError::Taxa(TaxaFfiError::InvalidArgument { .. }) | BridgeError::Argument(_) => jni_str!("INVALID_ARGUMENT"),
            BridgeError::Taxa(TaxaFfiError::Io { .. }) => jni_str!("IO"),
            BridgeError::Taxa(TaxaFfiError::Internal { .. }) | BridgeError::Jni(_) => jni_str!("INTERNAL"),
        }
    }
}

/// Throws `TaxaException(kind, message)`; if even that fails (the class is
/// missing from the app), a plain `RuntimeException`, so the caller never
/// gets a silent null.
fn throw_taxa(env: &mut Env<'_>, kind: &jni::strings::JNIStr, message: &str) -> jni::errors::Result<()> {
    let thrown = (|| -> jni::errors::Result<()> {
        let kind = env
            .get_static_field(jni_str!("org/taxa/TaxaException$Kind"), kind, jni_sig!("Lorg/taxa/TaxaException$Kind;"))?
            .l()?;
        let message = env.new_string(message)?;
        let exception = env.new_object(
            jni_str!("org/taxa/TaxaException"),
            jni_sig!("(Lorg/taxa/TaxaException$Kind;Ljava/lang/String;)V"),
            &[JValue::from(&kind), JValue::from(&message)],
        )?;
        let exception = env.cast_local::<JThrowable>(exception)?;
        env.throw(exception)
    })();
    match thrown {
        Err(jni::errors::Error::JavaException) => Ok(()),
        Ok(()) => Ok(()),
        Err(_) => {
            if env.exception_check() {
                env.exception_clear();
            }
            match env.throw_new(jni_str!("java/lang/RuntimeException"), JNIString::from(message)) {
                Err(jni::errors::Error::JavaException) | Ok(()) => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}

/// Errors and panics become `TaxaException`s with their kind.
struct ThrowTaxaException;

impl<T: Default> ErrorPolicy<T, BridgeError> for ThrowTaxaException {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        err: BridgeError,
    ) -> jni::errors::Result<T> {
        // A Java exception already pending (thrown by a JNI call) goes up as it is.
        if !env.exception_check() {
            throw_taxa(env, err.kind(), &err.to_string())?;
        }
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        if env.exception_check() {
            env.exception_clear();
        }
        let message = format!("internal error: {}", taxa_core::panic::panic_message(payload.as_ref()));
        throw_taxa(env, jni_str!("INTERNAL"), &message)?;
        Ok(T::default())
    }
}

/// Refuses a null array argument: "`what` are null".
fn not_null(array: &JObject<'_>, what: &str) -> BridgeResult<()> {
    if array.is_null() { Err(BridgeError::Argument(format!("{what} are null"))) } else { Ok(()) }
}

fn optional_string(env: &Env<'_>, s: &JString<'_>) -> BridgeResult<Option<String>> {
    if s.is_null() { Ok(None) } else { Ok(Some(s.try_to_string(env)?)) }
}

/// A `String[]` (null: empty); null elements are refused.
fn strings(env: &mut Env<'_>, array: &JObjectArray<'_, JString<'_>>, what: &str) -> BridgeResult<Vec<String>> {
    if array.is_null() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for i in 0..array.len(env)? {
        let s = array.get_element(env, i)?;
        out.push(optional_string(env, &s)?.ok_or_else(|| BridgeError::Argument(format!("{what}[{i}] is null")))?);
    }
    Ok(out)
}

fn classifier<'a>(handle: jlong) -> BridgeResult<&'a Arc<Classifier>> {
    if handle == 0 {
        return Err(BridgeError::Argument("the classifier is closed".into()));
    }
    // SAFETY: `handle` came from `load_call` and the Java side frees it
    // only after every call using it has returned.
    Ok(unsafe { &*(handle as *const Arc<Classifier>) })
}

fn smoother<'a>(handle: jlong) -> Option<&'a ScoreSmoother> {
    // SAFETY: a non-zero handle came from `nativeNew` and the Java side keeps
    // it open (its read lock) for the whole call.
    (handle != 0).then(|| unsafe { &*(handle as *const ScoreSmoother) })
}

/// Frees what a `Box<T>` handle points at; 0 is no handle.
///
/// SAFETY (for the caller): `handle` came from `Box::<T>::into_raw`, and the
/// Java side calls this once, after all other calls on the handle.
unsafe fn free_handle<T>(handle: jlong) {
    if handle != 0 {
        drop(unsafe { Box::from_raw(handle as *mut T) });
    }
}

/// A Java `int` thread count as the `threads` of `Classifier::from_*`:
/// negative is refused here, 0 by taxa-core (both `INVALID_ARGUMENT`).
fn thread_count(threads: jint) -> BridgeResult<u32> {
    u32::try_from(threads).map_err(|_| BridgeError::Argument(format!("threads must be at least 1, got {threads}")))
}

/// What both `nativeLoad*` do around `load`: the classifier goes back as a
/// `Box<Arc<Classifier>>` handle.
fn load_call(unowned_env: &mut EnvUnowned<'_>, load: impl FnOnce(&mut Env<'_>) -> BridgeResult<Arc<Classifier>>) -> jlong {
    unowned_env
        .with_env(|env| -> BridgeResult<jlong> { Ok(Box::into_raw(Box::new(load(env)?)) as jlong) })
        .resolve::<ThrowTaxaException>()
}

/// The `List<String>` field `name` of `o`, as `List.toArray(new String[0])`
/// gives it; a null list is refused.
fn string_list(env: &mut Env<'_>, o: &JObject<'_>, name: &'static jni::strings::JNIStr, what: &str) -> BridgeResult<Vec<String>> {
    let list = env.get_field(o, name, jni_sig!("Ljava/util/List;"))?.l()?;
    if list.is_null() {
        return Err(BridgeError::Argument(format!("{what} is null")));
    }
    let empty = JObjectArray::<JString>::new(env, 0, JString::null())?;
    let array = env
        .call_method(&list, jni_str!("toArray"), jni_sig!("([Ljava/lang/Object;)[Ljava/lang/Object;"), &[JValue::from(&empty)])?
        .l()?;
    let array = env.cast_local::<JObjectArray<JString>>(array)?;
    strings(env, &array, what)
}

/// Reads an `org.taxa.ClassifyOptions` (`topK`, `minScore`, `allow`, `deny`,
/// `rollupThreshold`) field by field.
fn classify_options(env: &mut Env<'_>, o: &JObject<'_>) -> BridgeResult<ClassifyOptions> {
    if o.is_null() {
        return Err(BridgeError::Argument("options are null".into()));
    }
    let top_k = env.get_field(o, jni_str!("topK"), jni_sig!("I"))?.i()?;
    if top_k < 1 {
        return Err(BridgeError::Argument(format!("topK must be at least 1, got {top_k}")));
    }
    Ok(ClassifyOptions {
        top_k: top_k as u32,
        min_score: env.get_field(o, jni_str!("minScore"), jni_sig!("F"))?.f()?,
        allow: string_list(env, o, jni_str!("allow"), "allow")?,
        deny: string_list(env, o, jni_str!("deny"), "deny")?,
        rollup_threshold: env.get_field(o, jni_str!("rollupThreshold"), jni_sig!("F"))?.f()?,
        ..ClassifyOptions::default()
    })
}

/// What every `nativeClassify*` does around `classify`: checks the handle,
/// reads the options, and returns the result as `org.taxa.Classification`.
fn classify_call<'local>(
    unowned_env: &mut EnvUnowned<'local>,
    handle: jlong,
    options: &JObject<'_>,
    classify: impl FnOnce(&mut Env<'local>, &Classifier, ClassifyOptions) -> BridgeResult<Classification>,
) -> JObject<'local> {
    unowned_env
        .with_env(|env| -> BridgeResult<JObject<'local>> {
            let classifier = classifier(handle)?;
            let options = classify_options(env, options)?;
            let result = classify(env, classifier, options)?;
            java_classification(env, result)
        })
        .resolve::<ThrowTaxaException>()
}

fn java_string<'local>(env: &mut Env<'local>, s: Option<String>) -> BridgeResult<JObject<'local>> {
    Ok(match s {
        Some(s) => JObject::from(env.new_string(s)?),
        None => JObject::null(),
    })
}

fn java_rank<'local>(env: &mut Env<'local>, rank: &str) -> BridgeResult<JObject<'local>> {
    let name = match rank {
        "kingdom" => jni_str!("KINGDOM"),
        "phylum" => jni_str!("PHYLUM"),
        "class" => jni_str!("CLASS"),
        "order" => jni_str!("ORDER"),
        "family" => jni_str!("FAMILY"),
        "genus" => jni_str!("GENUS"),
        "species" => jni_str!("SPECIES"),
        other => return Err(BridgeError::Argument(format!("unknown rank {other}"))),
    };
    Ok(env.get_static_field(jni_str!("org/taxa/Rank"), name, jni_sig!("Lorg/taxa/Rank;"))?.l()?)
}

fn java_taxon_score<'local>(env: &mut Env<'local>, rank: &str, name: String, score: f32) -> BridgeResult<JObject<'local>> {
    let rank = java_rank(env, rank)?;
    let name = java_string(env, Some(name))?;
    Ok(env.new_object(
        jni_str!("org/taxa/TaxonScore"),
        jni_sig!("(Lorg/taxa/Rank;Ljava/lang/String;F)V"),
        &[JValue::from(&rank), JValue::from(&name), JValue::Float(score)],
    )?)
}

/// Builds `org.taxa.Classification` from the result, field by field.
fn java_classification<'local>(env: &mut Env<'local>, c: Classification) -> BridgeResult<JObject<'local>> {
    let predictions = env.new_object_array(c.predictions.len() as i32, jni_str!("org/taxa/Prediction"), JObject::null())?;
    for (i, p) in c.predictions.into_iter().enumerate() {
        let t = p.taxon;
        let mut strings = Vec::with_capacity(9);
        for s in [Some(p.label), t.kingdom, t.phylum, t.class_name, t.order, t.family, t.genus, Some(t.species), t.common_name] {
            strings.push(java_string(env, s)?);
        }
        let mut args = vec![JValue::Int(p.class_index as jint), JValue::from(&strings[0]), JValue::Float(p.score)];
        args.extend(strings[1..].iter().map(JValue::from));
        args.push(JValue::Bool(p.is_taxon));
        let prediction = env.new_object(
            jni_str!("org/taxa/Prediction"),
            jni_sig!("(ILjava/lang/String;FLjava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Z)V"),
            &args,
        )?;
        predictions.set_element(env, i, &prediction)?;
        // Long top-k lists stay within the JVM's local reference budget.
        env.delete_local_ref(prediction);
        for s in strings {
            env.delete_local_ref(s);
        }
    }
    let (rollup, lineage) = match c.rollup {
        None => (JObject::null(), Vec::new()),
        Some(r) => (java_taxon_score(env, &r.rank, r.name, r.score)?, r.lineage),
    };
    let lineage_array = env.new_object_array(lineage.len() as i32, jni_str!("org/taxa/TaxonScore"), JObject::null())?;
    for (i, t) in lineage.into_iter().enumerate() {
        let score = java_taxon_score(env, &t.rank, t.name, t.score)?;
        lineage_array.set_element(env, i, &score)?;
    }
    Ok(env.new_object(
        jni_str!("org/taxa/Classification"),
        jni_sig!("([Lorg/taxa/Prediction;Lorg/taxa/TaxonScore;[Lorg/taxa/TaxonScore;)V"),
        &[JValue::from(&predictions), JValue::from(&rollup), JValue::from(&lineage_array)],
    )?)
}

fn string_array<'local>(env: &mut Env<'local>, values: Vec<String>) -> BridgeResult<JObjectArray<'local, JString<'local>>> {
    let array = JObjectArray::<JString>::new(env, values.len(), JString::null())?;
    for (i, v) in values.into_iter().enumerate() {
        let s = JString::from_str(env, v)?;
        array.set_element(env, i, &s)?;
    }
    Ok(array)
}

/// The bytes `[offset, offset + length)` of a direct `ByteBuffer`, read in place.
///
/// SAFETY (for the caller): the slice lives as long as the buffer's local
/// reference, i.e. this native call; the Java API says the buffer must not
/// change during the call.
fn direct_bytes<'b>(env: &Env<'_>, buffer: &'b JByteBuffer<'_>, offset: jint, length: jint, plane: &str) -> BridgeResult<&'b [u8]> {
    if buffer.is_null() {
        return Err(BridgeError::Argument(format!("{plane} plane buffer is null")));
    }
    let address = env
        .get_direct_buffer_address(buffer)
        .map_err(|_| BridgeError::Argument(format!("{plane} plane buffer is not a direct ByteBuffer")))?;
    let capacity = env.get_direct_buffer_capacity(buffer)?;
    let (Ok(offset), Ok(length)) = (usize::try_from(offset), usize::try_from(length)) else {
        return Err(BridgeError::Argument(format!("{plane} plane: offset {offset} and length {length} must not be negative")));
    };
    if offset.checked_add(length).is_none_or(|end| end > capacity) {
        return Err(BridgeError::Argument(format!("{plane} plane: bytes {offset}..+{length} are outside the buffer's {capacity}")));
    }
    if length == 0 {
        return Ok(&[]);
    }
    // SAFETY: JNI guarantees `address` points at `capacity` bytes for as long as the buffer lives; the range is inside.
    Ok(unsafe { std::slice::from_raw_parts(address.add(offset), length) })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_Classifier_nativeLoadPath<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    model_path: JString<'local>,
    labels_path: JString<'local>,
    threads: jint,
) -> jlong {
    load_call(&mut unowned_env, |env| {
        let model = optional_string(env, &model_path)?.ok_or_else(|| BridgeError::Argument("modelPath is null".into()))?;
        let labels = optional_string(env, &labels_path)?;
        Ok(Classifier::from_path(model, labels, thread_count(threads)?)?)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_Classifier_nativeLoadBytes<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    model: JByteArray<'local>,
    labels: JObjectArray<'local, JString<'local>>,
    threads: jint,
) -> jlong {
    load_call(&mut unowned_env, |env| {
        not_null(&model, "model bytes")?;
        let threads = thread_count(threads)?;
        let bytes = env.convert_byte_array(&model)?;
        let labels = if labels.is_null() { None } else { Some(strings(env, &labels, "labels")?) };
        Ok(Classifier::from_bytes(bytes, labels, threads)?)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_Classifier_nativeClassify<'local>(
    mut unowned_env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong, image: JByteArray<'local>, options: JObject<'local>,
) -> JObject<'local> {
    classify_call(&mut unowned_env, handle, &options, |env, classifier, options| {
        not_null(&image, "image bytes")?;
        Ok(classifier.classify(env.convert_byte_array(&image)?, options)?)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_Classifier_nativeClassifyArgb<'local>(
    mut unowned_env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong, argb: JIntArray<'local>, width: jint, height: jint, options: JObject<'local>,
) -> JObject<'local> {
    classify_call(&mut unowned_env, handle, &options, |env, classifier, options| {
        let bgra = argb_as_bgra(env, &argb, width, height)?;
        Ok(classifier.classify_pixels(width as u32, height as u32, width as u32 * 4, PixelFormat::Bgra8, bgra, options)?)
    })
}

/// `Bitmap.getPixels` output (`width`×`height` 0xAARRGGBB ints) as bytes:
/// B, G, R, A per pixel, since the ints are little-endian.
fn argb_as_bgra(env: &mut Env<'_>, argb: &JIntArray<'_>, width: jint, height: jint) -> BridgeResult<Vec<u8>> {
    not_null(argb, "pixels")?;
    if width <= 0 || height <= 0 {
        return Err(BridgeError::Argument(format!("size {width}×{height} has no pixels")));
    }
    let mut pixels = vec![0 as jint; argb.len(env)?];
    argb.get_region(env, 0, &mut pixels)?;
    Ok(pixels.iter().flat_map(|p| p.to_le_bytes()).collect())
}

#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_taxa_Classifier_nativeClassifyYuv<'local>(
    mut unowned_env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong,
    width: jint, height: jint,
    y: JByteBuffer<'local>, y_offset: jint, y_length: jint, y_row_stride: jint, y_pixel_stride: jint,
    u: JByteBuffer<'local>, u_offset: jint, u_length: jint, u_row_stride: jint, u_pixel_stride: jint,
    v: JByteBuffer<'local>, v_offset: jint, v_length: jint, v_row_stride: jint, v_pixel_stride: jint,
    video_range: jboolean, rotation_degrees: jint, smoother_handle: jlong, options: JObject<'local>,
) -> JObject<'local> {
    classify_call(&mut unowned_env, handle, &options, |env, classifier, options| {
        let non_negative = |v: jint, what: &str| {
            u32::try_from(v).map_err(|_| BridgeError::Argument(format!("{what} must not be negative, got {v}")))
        };
        let plane = |data, row: jint, pixel: jint, name: &str| -> BridgeResult<taxa_core::YuvPlane<'_>> {
            Ok(taxa_core::YuvPlane {
                data,
                row_stride: non_negative(row, &format!("{name} plane row stride"))? as usize,
                pixel_stride: non_negative(pixel, &format!("{name} plane pixel stride"))? as usize,
            })
        };
        let frame = taxa_core::Yuv420Frame {
            width: non_negative(width, "width")?,
            height: non_negative(height, "height")?,
            y: plane(direct_bytes(env, &y, y_offset, y_length, "Y")?, y_row_stride, y_pixel_stride, "Y")?,
            u: plane(direct_bytes(env, &u, u_offset, u_length, "U")?, u_row_stride, u_pixel_stride, "U")?,
            v: plane(direct_bytes(env, &v, v_offset, v_length, "V")?, v_row_stride, v_pixel_stride, "V")?,
            range: if video_range { taxa_core::YuvRange::Video } else { taxa_core::YuvRange::Full },
        };
        // classify_frame validates every plane before reading a byte.
        Ok(classifier.classify_frame(&frame, rotation_degrees, smoother(smoother_handle), options)?)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_Classifier_nativeLabels<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JObjectArray<'local, JString<'local>> {
    unowned_env
        .with_env(|env| -> BridgeResult<JObjectArray<'local, JString<'local>>> {
            let labels = classifier(handle)?.info().labels;
            string_array(env, labels)
        })
        .resolve::<ThrowTaxaException>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_Classifier_nativeThreads<'local>(mut unowned_env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) -> jint {
    unowned_env.with_env(|_env| -> BridgeResult<jint> { Ok(classifier(handle)?.threads() as jint) }).resolve::<ThrowTaxaException>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_Classifier_nativeFree<'local>(mut unowned_env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) {
    unowned_env
        .with_env(|_env| -> BridgeResult<()> {
            // SAFETY: the handle came from `load_call`.
            unsafe { free_handle::<Arc<Classifier>>(handle) };
            Ok(())
        })
        .resolve::<ThrowTaxaException>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_ScoreSmoother_nativeNew<'local>(mut unowned_env: EnvUnowned<'local>, _class: JClass<'local>, window: jint) -> jlong {
    unowned_env
        .with_env(|_env| -> BridgeResult<jlong> {
            let window = u32::try_from(window).map_err(|_| BridgeError::Argument(format!("the smoothing window must be at least 1 frame, got {window}")))?;
            let smoother = ScoreSmoother::new(window)?;
            // The Arc's single owner moves into the box the handle points at.
            let smoother = Arc::try_unwrap(smoother).map_err(|_| BridgeError::Argument("smoother is shared".into()))?;
            Ok(Box::into_raw(Box::new(smoother)) as jlong)
        })
        .resolve::<ThrowTaxaException>()
}

fn with_smoother<T>(handle: jlong, f: impl FnOnce(&ScoreSmoother) -> T) -> BridgeResult<T> {
    smoother(handle).map(f).ok_or_else(|| BridgeError::Argument("the smoother is closed".into()))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_ScoreSmoother_nativeReset<'local>(mut unowned_env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) {
    unowned_env.with_env(|_env| with_smoother(handle, |s| s.reset())).resolve::<ThrowTaxaException>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_ScoreSmoother_nativeWindow<'local>(mut unowned_env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) -> jint {
    unowned_env.with_env(|_env| with_smoother(handle, |s| s.window() as jint)).resolve::<ThrowTaxaException>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_ScoreSmoother_nativeFrames<'local>(mut unowned_env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) -> jint {
    unowned_env.with_env(|_env| with_smoother(handle, |s| s.frames() as jint)).resolve::<ThrowTaxaException>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_org_taxa_ScoreSmoother_nativeFree<'local>(mut unowned_env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) {
    unowned_env
        .with_env(|_env| -> BridgeResult<()> {
            // SAFETY: the handle came from `nativeNew`.
            unsafe { free_handle::<ScoreSmoother>(handle) };
            Ok(())
        })
        .resolve::<ThrowTaxaException>()
}
