package dev.jdm.kernel;

/** What frontends hear about devices coming, changing and going. Called on the control thread. */
public interface DeviceListener {
  /** A device was created (it may have no table yet). */
  default void created(MappedDevice device) {}

  /** A device's live table changed (size and capabilities may differ). */
  default void changed(MappedDevice device) {}

  /** A device was removed; its requests now fail with ESHUTDOWN. */
  default void removed(MappedDevice device) {}
}
