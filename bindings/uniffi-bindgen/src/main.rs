//! `uniffi-bindgen generate --library libtaxa_ffi.so --language <swift|kotlin|python>`.
fn main() {
    uniffi::uniffi_bindgen_main()
}
