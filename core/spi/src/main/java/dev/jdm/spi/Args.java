package dev.jdm.spi;

import java.util.List;

/**
 * A table line's arguments read front to back, the kernel's {@code struct dm_arg_set} with
 * {@code dm_shift_arg}, {@code dm_read_arg} and {@code dm_read_arg_group}: each read names the
 * phrase the constructor refuses the table with when the argument is missing or wrong.
 *
 * <pre>{@code
 * Args a = new Args(args);
 * String dev = a.shift("Invalid argument count");
 * long offset = a.number(0, Long.MAX_VALUE, "Invalid device sector");
 * for (String f : a.group(0, 2, "Invalid number of feature args")) { ... }
 * a.end("Invalid argument count");
 * }</pre>
 */
public final class Args {
  private final List<String> args;
  private int next;

  /** Reads {@code args} from the first. */
  public Args(List<String> args) {
    this.args = args;
  }

  /** How many arguments are left. */
  public int remaining() {
    return args.size() - next;
  }

  /** The next argument without taking it, or null when none is left. */
  public String peek() {
    return next < args.size() ? args.get(next) : null;
  }

  /** Takes the next argument; refuses with {@code phrase} when none is left. */
  public String shift(String phrase) throws TargetException {
    if (next >= args.size()) {
      throw new TargetException(phrase);
    }
    return args.get(next++);
  }

  /**
   * Takes the next argument as a plain decimal number in {@code [min, max]}; refuses with
   * {@code phrase} when it is missing, not a number, or out of range.
   */
  public long number(long min, long max, String phrase) throws TargetException {
    return decimal(shift(phrase), min, max, phrase);
  }

  /** As {@link #number} for values that fit an {@code int}. */
  public int integer(int min, int max, String phrase) throws TargetException {
    return (int) number(min, max, phrase);
  }

  /**
   * Takes a counted group: a number {@code n} in {@code [min, max]}, then {@code n} arguments, as
   * {@code <#features> <feature>...}. Refuses with {@code phrase} when the count is bad or fewer
   * than {@code n} arguments follow.
   */
  public List<String> group(int min, int max, String phrase) throws TargetException {
    int n = integer(min, max, phrase);
    if (n > remaining()) {
      throw new TargetException(phrase);
    }
    List<String> g = args.subList(next, next + n);
    next += n;
    return g;
  }

  /** Refuses with {@code phrase} when arguments are left over. */
  public void end(String phrase) throws TargetException {
    if (remaining() != 0) {
      throw new TargetException(phrase);
    }
  }

  /**
   * {@code text} as a plain decimal number (digits only, no sign, no spaces) in {@code [min, max]};
   * refuses with {@code phrase} otherwise.
   */
  public static long decimal(String text, long min, long max, String phrase)
      throws TargetException {
    if (text.isEmpty() || text.length() > 19) {
      throw new TargetException(phrase);
    }
    long v = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        throw new TargetException(phrase);
      }
      v = v * 10 + (c - '0');
      if (v < 0) {
        throw new TargetException(phrase);
      }
    }
    if (v < min || v > max) {
      throw new TargetException(phrase);
    }
    return v;
  }
}
