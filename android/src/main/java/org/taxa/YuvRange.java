package org.taxa;

/**
 * The value range of a YUV frame; both use the BT.601 matrix. Android's camera
 * {@code YUV_420_888} is JFIF, that is {@link #FULL}. iOS
 * {@code kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange} is {@link #VIDEO}.
 */
public enum YuvRange {
    /** Y, U, V in 0–255 (JFIF). */
    FULL,
    /** Y in 16–235, U and V in 16–240 (studio swing). */
    VIDEO
}
