package org.taxa;

/** A taxa failure, with its {@link Kind} and taxa's message (which names the cause). */
public class TaxaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What went wrong, as the UniFFI bindings' {@code TaxaFfiError} names it. */
    public enum Kind {
        /** The image could not be decoded (corrupt, truncated, unsupported, too large). */
        INVALID_IMAGE,
        /** The model or its labels could not be loaded. */
        INVALID_MODEL,
        /** Bad arguments: options, pixel or plane sizes and strides, rotation, smoother. */
        INVALID_ARGUMENT,
        /** A file could not be read. */
        IO,
        /** A bug in taxa (a caught panic or an inference failure). */
        INTERNAL
    }

    private final Kind kind;

    /** Thrown by the native bridge. */
    public TaxaException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
