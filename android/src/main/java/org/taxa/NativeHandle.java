package org.taxa;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A native handle behind a read-write lock: calls hold the read lock and
 * {@link #close()} takes the write lock, so the native state is never freed
 * under a running call.
 */
final class NativeHandle {
    interface Call<T> {
        T run(long handle);
    }

    interface Free {
        void free(long handle);
    }

    private long handle;
    private final String owner;
    private final Free free;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

    /** @param owner the class name that a call after close names */
    NativeHandle(long handle, String owner, Free free) {
        this.handle = handle;
        this.owner = owner;
        this.free = free;
    }

    /** Runs a native call under the read lock on an open handle. */
    <T> T with(Call<T> call) {
        lock.readLock().lock();
        try {
            if (handle == 0) {
                throw new IllegalStateException(owner + " is closed");
            }
            return call.run(handle);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Frees the native state. Safe to call more than once. */
    void close() {
        lock.writeLock().lock();
        try {
            if (handle != 0) {
                free.free(handle);
                handle = 0;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }
}
