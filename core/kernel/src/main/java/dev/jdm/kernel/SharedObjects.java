package dev.jdm.kernel;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Objects that targets of one device mapper share by key (a snapshot finds its origin, the members
 * of a raid set find each other), counted by the targets holding them: the last target to let go
 * closes the object when it is {@link AutoCloseable}. Replaces static fields, which would leak
 * between device mappers and outlive plugin unloading.
 */
final class SharedObjects implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SharedObjects.class);

  private static final class Entry {
    final Object value;
    int holders;

    Entry(Object value) {
      this.value = value;
    }
  }

  private final Map<String, Entry> entries = new HashMap<>();

  /**
   * The object under {@code key}, made by {@code factory} if there is none, with one more holder.
   * The caller calls {@link #release} once for each acquire.
   */
  synchronized <T> T acquire(String key, Class<T> type, Supplier<? extends T> factory) {
    Entry e = entries.get(key);
    if (e == null) {
      T made = factory.get();
      if (made == null) {
        throw new NullPointerException("shared object '" + key + "': the factory returned null");
      }
      e = new Entry(cast(key, type, made));
      entries.put(key, e);
    }
    T value = cast(key, type, e.value);
    e.holders++;
    return value;
  }

  /** The object under {@code key} as a {@code type}, for a holder asking again. */
  synchronized <T> T get(String key, Class<T> type) {
    Entry e = entries.get(key);
    if (e == null) {
      throw new IllegalStateException("shared object '" + key + "' is gone");
    }
    return cast(key, type, e.value);
  }

  private static <T> T cast(String key, Class<T> type, Object value) {
    if (!type.isInstance(value)) {
      throw new ClassCastException("shared object '" + key + "' is a "
          + value.getClass().getName() + ", not a " + type.getName());
    }
    return type.cast(value);
  }

  /** One holder of {@code key} lets go; the last one closes the object. */
  void release(String key) {
    Object closing = null;
    synchronized (this) {
      Entry e = entries.get(key);
      if (e == null) {
        return;
      }
      if (--e.holders == 0) {
        entries.remove(key);
        closing = e.value;
      }
    }
    closeObject(key, closing);
  }

  private static void closeObject(String key, Object value) {
    if (value instanceof AutoCloseable c) {
      try {
        c.close();
      } catch (Exception e) {
        LOG.warn("shared object '{}': close failed: {}", key, e.toString());
      }
    }
  }

  /** How many objects are registered. */
  synchronized int size() {
    return entries.size();
  }

  /** Closes whatever is left (the device mapper is closing). */
  @Override
  public void close() {
    Map<String, Entry> left;
    synchronized (this) {
      left = new HashMap<>(entries);
      entries.clear();
    }
    left.forEach((k, e) -> closeObject(k, e.value));
  }
}
