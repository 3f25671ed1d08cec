package dev.jdm.spi;

/**
 * The state a target keeps for one request while it runs, the kernel's per-bio data
 * ({@code per_io_data_size}, {@code dm_per_bio_data}). A target that needs it returns a new one from
 * {@link Target#newRequestData}; the core pools them, {@link #reset}s one and binds it to each
 * request it maps to the target, so {@link Target#map} and {@link Target#endIo} find it in
 * {@link IoRequest#targetData()} without allocating.
 */
public interface RequestData {
  /** Clears what the previous request left, before the core hands this object to a new one. */
  void reset();
}
