package dev.jdm.cli;

import com.typesafe.config.Config;
import de.erichseifert.vectorgraphics2d.VectorGraphics2D;
import de.erichseifert.vectorgraphics2d.svg.SVGProcessor;
import de.erichseifert.vectorgraphics2d.util.PageSize;
import dev.jdm.spi.IoOp;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Draws a trace as the seed article's figure and two more panels, headless, with XChart: on top,
 * every request's start sector over time, one colour per op; below, left, how many requests of
 * each size; below, right, the latency p50 and p99 in time buckets. The output's extension picks
 * PNG or SVG.
 */
final class TracePlot {
  /** The colour of each op's points and bars. */
  static final Map<IoOp, Color> COLOURS = new EnumMap<>(Map.of(
      IoOp.READ, new Color(0x1F77B4),
      IoOp.WRITE, new Color(0xD62728),
      IoOp.FLUSH, new Color(0x8C564B),
      IoOp.DISCARD, new Color(0x2CA02C),
      IoOp.WRITE_ZEROES, new Color(0xFF7F0E)));
  /** Share of the height the sector panel takes. */
  static final double TOP_SHARE = 0.55;
  private static final Color P50 = new Color(0x1B9E77);
  private static final Color P99 = new Color(0x7570B3);
  private static final double NS_PER_S = 1e9;
  private static final double MIN_LATENCY_US = 0.001;
  private static final double LOG_AXIS_RATIO = 20;
  private static final int MIN_SIZE = 200;
  /** 16384 squared RGB pixels are 1 GiB of image: a sane ceiling. */
  private static final int MAX_SIZE = 16384;

  private final int maxPoints;
  private final int latencyBuckets;

  /** A plotter with the settings of {@code jdm.trace.plot}. */
  TracePlot(Config plot) {
    this.maxPoints = plot.getInt("max-points");
    this.latencyBuckets = plot.getInt("latency-buckets");
  }

  /**
   * Draws {@code log} into {@code out} ({@code .png} or {@code .svg}), {@code width} by
   * {@code height} pixels.
   *
   * @param title what the trace is, for the top panel's title
   * @param filter what was kept, to scale the sector axis to a requested range
   */
  void write(TraceLog log, String title, TraceLog.Filter filter, Path out, int width, int height)
      throws IOException {
    String format = checkOutput(out, width, height);
    if (log.size() == 0) {
      throw new IllegalArgumentException("nothing to plot: none of the " + log.records()
          + " requests in the trace match the --sectors and --ops asked for");
    }
    // Java2D into an image needs no display; this keeps AWT from looking for one via $DISPLAY.
    System.setProperty("java.awt.headless", "true");
    int top = (int) (height * TOP_SHARE);
    int left = width / 2;
    List<Panel> panels = List.of(
        new Panel(sectors(log, title, filter, width, top), 0, 0, width, top),
        new Panel(sizes(log, left, height - top), 0, top, left, height - top),
        new Panel(latency(log, width - left, height - top), left, top, width - left,
            height - top));
    try (OutputStream o = Files.newOutputStream(out)) {
      if (format.equals("svg")) {
        VectorGraphics2D g = new VectorGraphics2D();
        paint(g, panels, width, height);
        new SVGProcessor().getDocument(g.getCommands(), new PageSize(0, 0, width, height))
            .writeTo(o);
      } else {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        paint(img.createGraphics(), panels, width, height);
        if (!ImageIO.write(img, "png", o)) {
          throw new IOException("no PNG writer in this Java runtime");
        }
      }
    } catch (NoSuchFileException e) {
      throw new IOException(out + ": cannot write the plot: no such directory", e);
    } catch (IOException e) {
      throw new IOException(out + ": cannot write the plot: " + e.getMessage(), e);
    }
  }

  /**
   * Checks the output's name and size before any work; returns its format, png or svg.
   *
   * @throws IllegalArgumentException saying what is wrong
   */
  static String checkOutput(Path out, int width, int height) {
    if (width < MIN_SIZE || height < MIN_SIZE || width > MAX_SIZE || height > MAX_SIZE) {
      throw new IllegalArgumentException("plot size " + width + "x" + height + ": each side must"
          + " be from " + MIN_SIZE + " to " + MAX_SIZE + " pixels");
    }
    String name = out.getFileName().toString().toLowerCase(Locale.ROOT);
    if (name.endsWith(".png")) {
      return "png";
    }
    if (name.endsWith(".svg")) {
      return "svg";
    }
    throw new IllegalArgumentException(out + ": the output must end in .png or .svg");
  }

  private record Panel(Chart<?, ?> chart, int x, int y, int width, int height) {}

  private static void paint(Graphics2D g, List<Panel> panels, int width, int height) {
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, width, height);
    for (Panel p : panels) {
      Graphics2D sub = (Graphics2D) g.create(p.x, p.y, p.width, p.height);
      p.chart.paint(sub, p.width, p.height);
      sub.dispose();
    }
    g.dispose();
  }

  /** Start sector over time, a point per request, thinned to at most max-points. */
  private XYChart sectors(TraceLog log, String title, TraceLog.Filter filter, int w, int h) {
    int stride = (log.size() + maxPoints - 1) / maxPoints;
    XYChart c = new XYChart(w, h);
    c.setTitle(title + ": sector over time, " + (stride > 1 ? "1 in " + stride + " of " : "")
        + log.size() + " requests");
    c.setXAxisTitle("time (s)");
    c.setYAxisTitle("sector");
    style(c.getStyler());
    c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
    // Big dots while they stay apart, small ones when there are many.
    int drawn = log.size() / stride;
    c.getStyler().setMarkerSize(drawn < 2000 ? 7 : drawn < 50000 ? 4 : 2);
    c.getStyler().setYAxisDecimalPattern("#,##0");
    c.getStyler().setXAxisDecimalPattern("0.###");
    if (filter.fromSector() > 0) {
      c.getStyler().setYAxisMin((double) filter.fromSector());
    }
    if (filter.toSector() != Long.MAX_VALUE) {
      c.getStyler().setYAxisMax((double) filter.toSector());
    }
    for (IoOp op : IoOp.values()) {
      int n = 0;
      double[] x = new double[log.size() / stride + 1];
      double[] y = new double[x.length];
      int seen = 0;
      for (int i = 0; i < log.size(); i++) {
        if (log.op(i) == op && seen++ % stride == 0) {
          x[n] = log.timeNs(i) / NS_PER_S;
          y[n] = log.sector(i);
          n++;
        }
      }
      if (n > 0) {
        XYSeries s = c.addSeries(TraceLog.opName(op), Arrays.copyOf(x, n), Arrays.copyOf(y, n));
        s.setMarker(SeriesMarkers.CIRCLE);
        s.setMarkerColor(COLOURS.get(op));
      }
    }
    return c;
  }

  /**
   * Requests per size, in power-of-two buckets labelled by their lower edge. Flushes, which have
   * no size, only count when there is nothing else.
   */
  private static CategoryChart sizes(TraceLog log, int w, int h) {
    int buckets = 33;
    boolean sized = false;
    for (int i = 0; i < log.size() && !sized; i++) {
      sized = log.op(i) != IoOp.FLUSH;
    }
    Map<IoOp, double[]> counts = new EnumMap<>(IoOp.class);
    int lo = buckets;
    int hi = 0;
    for (int i = 0; i < log.size(); i++) {
      if (sized && log.op(i) == IoOp.FLUSH) {
        continue;
      }
      int b = log.bytes(i) <= 0 ? 0 : 32 - Integer.numberOfLeadingZeros(log.bytes(i));
      counts.computeIfAbsent(log.op(i), o -> new double[buckets])[b]++;
      lo = Math.min(lo, b);
      hi = Math.max(hi, b);
    }
    List<String> labels = new ArrayList<>();
    for (int b = lo; b <= hi; b++) {
      labels.add(b == 0 ? "0" : sizeLabel(1L << (b - 1)));
    }
    CategoryChart c = new CategoryChart(w, h);
    c.setTitle("request sizes");
    c.setXAxisTitle("bytes (at least)");
    c.setYAxisTitle("requests");
    style(c.getStyler());
    c.getStyler().setOverlapped(false);
    c.getStyler().setXAxisLabelRotation(45);
    // Same colours as the sector panel, whose legend says which op is which.
    c.getStyler().setLegendVisible(false);
    c.getStyler().setYAxisDecimalPattern("#,##0");
    for (Map.Entry<IoOp, double[]> e : counts.entrySet()) {
      List<Double> ys = new ArrayList<>();
      for (int b = lo; b <= hi; b++) {
        ys.add(e.getValue()[b]);
      }
      CategorySeries s = c.addSeries(TraceLog.opName(e.getKey()), labels, ys);
      s.setFillColor(COLOURS.get(e.getKey()));
    }
    return c;
  }

  static String sizeLabel(long bytes) {
    if (bytes >= 1 << 30 && bytes % (1 << 30) == 0) {
      return bytes / (1 << 30) + "G";
    }
    if (bytes >= 1 << 20 && bytes % (1 << 20) == 0) {
      return bytes / (1 << 20) + "M";
    }
    if (bytes >= 1 << 10 && bytes % (1 << 10) == 0) {
      return bytes / (1 << 10) + "K";
    }
    return Long.toString(bytes);
  }

  /** p50 and p99 latency of the requests that started in each time bucket. */
  private XYChart latency(TraceLog log, int w, int h) {
    long t0 = Long.MAX_VALUE;
    long t1 = Long.MIN_VALUE;
    for (int i = 0; i < log.size(); i++) {
      t0 = Math.min(t0, log.timeNs(i));
      t1 = Math.max(t1, log.timeNs(i));
    }
    int buckets = (int) Math.max(1, Math.min(latencyBuckets, log.size()));
    double span = Math.max(1, t1 - t0 + 1);
    int[] start = new int[buckets + 1];
    int[] bucketOf = new int[log.size()];
    for (int i = 0; i < log.size(); i++) {
      bucketOf[i] = (int) ((log.timeNs(i) - t0) / span * buckets);
      start[bucketOf[i] + 1]++;
    }
    for (int b = 0; b < buckets; b++) {
      start[b + 1] += start[b];
    }
    double[] lat = new double[log.size()];
    int[] fill = Arrays.copyOf(start, buckets);
    for (int i = 0; i < log.size(); i++) {
      lat[fill[bucketOf[i]]++] = log.latencyUs(i);
    }
    List<Double> xs = new ArrayList<>();
    List<Double> p50 = new ArrayList<>();
    List<Double> p99 = new ArrayList<>();
    for (int b = 0; b < buckets; b++) {
      int n = start[b + 1] - start[b];
      if (n == 0) {
        continue;
      }
      Arrays.sort(lat, start[b], start[b + 1]);
      xs.add((t0 + span * (b + 0.5) / buckets) / NS_PER_S);
      p50.add(Math.max(MIN_LATENCY_US, lat[start[b] + rank(n, 0.50)]));
      p99.add(Math.max(MIN_LATENCY_US, lat[start[b] + rank(n, 0.99)]));
    }
    XYChart c = new XYChart(w, h);
    c.setTitle("latency");
    c.setXAxisTitle("time (s)");
    c.setYAxisTitle("microseconds");
    style(c.getStyler());
    c.getStyler().setXAxisDecimalPattern("0.###");
    // A log axis only labels powers of ten: use it when the latencies span more than a decade.
    double lo = p50.stream().mapToDouble(Double::doubleValue).min().orElse(1);
    double hi = p99.stream().mapToDouble(Double::doubleValue).max().orElse(1);
    c.getStyler().setYAxisLogarithmic(hi / lo > LOG_AXIS_RATIO);
    c.getStyler().setYAxisDecimalPattern("#,##0.###");
    c.getStyler().setMarkerSize(5);
    XYSeries s99 = c.addSeries("p99", xs, p99);
    s99.setLineColor(P99);
    s99.setMarkerColor(P99);
    s99.setMarker(SeriesMarkers.CIRCLE);
    XYSeries s50 = c.addSeries("p50", xs, p50);
    s50.setLineColor(P50);
    s50.setMarkerColor(P50);
    s50.setMarker(SeriesMarkers.CIRCLE);
    return c;
  }

  /** Nearest-rank index of quantile {@code p} among {@code n} sorted values. */
  private static int rank(int n, double p) {
    return Math.max(0, (int) Math.ceil(p * n) - 1);
  }

  private static void style(Styler s) {
    s.setChartBackgroundColor(Color.WHITE);
    s.setPlotBackgroundColor(Color.WHITE);
    s.setPlotBorderColor(Color.GRAY);
    s.setLegendPosition(Styler.LegendPosition.InsideNE);
    s.setLegendBorderColor(Color.LIGHT_GRAY);
  }
}
