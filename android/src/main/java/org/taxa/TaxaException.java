package org.taxa;

/** A taxa failure (bad image, bad model, bad argument), with taxa's message. */
public class TaxaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public TaxaException(String message, Throwable cause) {
        super(message, cause);
    }
}
