package dev.jdm.spi;

import java.util.List;
import java.util.Set;

/**
 * A kind of target, registered with the core under its name: the kernel's {@code struct target_type}.
 * Implementations are found with {@link java.util.ServiceLoader}, so they need a public no-argument
 * constructor and a {@code META-INF/services/dev.jdm.spi.TargetType} entry. They are stateless:
 * everything a segment needs lives in the {@link Target} that {@link #create} returns.
 */
public interface TargetType {
  /** Optional behaviour the core enforces for a type; the kernel's {@code DM_TARGET_*} features. */
  enum Feature {
    /** The only target in its table. */
    SINGLETON,
    /** A table with it cannot be replaced by one without it, nor loses it (e.g. a pool). */
    IMMUTABLE,
    /** Its device cannot be made read-only. */
    ALWAYS_WRITEABLE,
    /** Its targets' {@link Target#endIo} runs for every request they remap. */
    END_IO
  }

  /** The name used in table lines, e.g. {@code linear}. Lowercase letters, digits, '_' and '-'. */
  String name();

  /** Other names accepted in table lines for the same type, e.g. {@code hello_target}. */
  default List<String> aliases() {
    return List.of();
  }

  /** The version {@code jdm targets} shows. */
  Version version();

  /** Features the core enforces. */
  default Set<Feature> features() {
    return Set.of();
  }

  /** The argument grammar, one line, e.g. {@code <dev_path> <offset>}. */
  String usage();

  /**
   * Builds one segment (the kernel's {@code ctr}). Checks the argument count first, then each
   * argument, and opens devices last; throws with a short fixed phrase on the first problem. The
   * core releases any device opened before a throw.
   *
   * @param context the device being built and access to backing devices
   * @param lengthInSectors the segment's length, at least 1
   * @param args the table line's arguments after the target name
   */
  Target create(TargetContext context, long lengthInSectors, List<String> args)
      throws TargetException;
}
