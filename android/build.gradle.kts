// The taxa Android library: the Java API in src/main/java over libtaxa_ffi.so,
// which build-rust.sh cross-compiles with cargo-ndk into src/main/jniLibs.
plugins {
    id("com.android.library") version "8.7.3"
}

android {
    namespace = "org.taxa"
    compileSdk = 35

    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets["main"].jniLibs.srcDirs("src/main/jniLibs")
}

// Build the native library for every ABI before Android packages it.
val cargoNdk by tasks.registering(Exec::class) {
    workingDir = projectDir
    commandLine("./build-rust.sh")
}

tasks.named("preBuild") {
    dependsOn(cargoNdk)
}
