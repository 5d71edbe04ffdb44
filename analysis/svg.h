/* svg.h: a small SVG writer for the figures of `peko plot`.
 *
 * A figure is a title, two axes (linear or logarithmic), and a list of
 * series (lines, shaded bands, points with whiskers), vertical markers and
 * legend notes. The caller adds data in its own units; the figure chooses
 * the ranges it was not given, nice tick steps (1, 2 or 5 times a power of
 * ten), the unit of a time axis (us, ms or s), and a legend beside the
 * plot, and writes one <svg> element that is
 * well-formed XML: every text is escaped and every number is printed with
 * the C locale's decimal point, whatever the process's locale.
 *
 * Series copy the arrays they are given; nothing is kept borrowed. NAN in
 * a series is a gap: a line breaks there, a point or a band vertex is
 * left out. An infinite coordinate is drawn just past that end of its
 * axis, where the plot's clip hides it: a curve that goes on beyond the
 * plot ("never reached" is +INFINITY on a time axis). Only finite values
 * count toward an axis range chosen from the data. Nothing here fails.
 */
#ifndef ANA_SVG_H
#define ANA_SVG_H

#include <glib.h>
#include <stddef.h>

G_BEGIN_DECLS

/* How an axis shows its values. */
typedef enum ana_svg_scale {
    ANA_SVG_LINEAR,  /* the values as they are */
    ANA_SVG_TIME_US, /* microseconds, shown in us, ms or s as fits */
    ANA_SVG_PERCENT, /* fractions, shown as 0..100 % */
} ana_svg_scale;

typedef enum ana_svg_axis {
    ANA_SVG_X,
    ANA_SVG_Y,
} ana_svg_axis;

typedef enum ana_svg_dash {
    ANA_SVG_SOLID,
    ANA_SVG_DASHED,
    ANA_SVG_DOTTED,
} ana_svg_dash;

/* Colours a series may use: Okabe and Ito's palette, safe for the common
 * kinds of colour blindness, in an order that keeps the first ones far
 * apart: blue, orange, green, vermillion, purple, sky blue (the six for
 * series: ANA_SVG_SERIES_COLOURS), black (for references: theory, a
 * summary over everything), and yellow last (faint on white). Index i
 * picks colour i modulo ANA_SVG_COLOURS. */
#define ANA_SVG_COLOURS 8
#define ANA_SVG_SERIES_COLOURS 6
#define ANA_SVG_BLACK 6
const char *ana_svg_colour(unsigned i);

/* Appends `text` with the five XML special characters escaped. Invalid
 * UTF-8 and characters XML 1.0 forbids (control characters other than
 * tab, newline and carriage return) become U+FFFD. NULL appends nothing. */
void ana_svg_append_escaped(GString *out, const char *text);

/* Appends `value` with `decimals` digits after the point (0..9), in the C
 * locale, without a trailing ".000..." part when decimals are asked for
 * but the value is whole, and never as "-0". Non-finite values append
 * "0" (a figure never writes them; this keeps the XML valid regardless). */
void ana_svg_append_number(GString *out, double value, int decimals);

/* Nice ticks over [lo, hi]: the smallest step of the form {1, 2, 5} x 10^k
 * that needs at most `max_ticks` intervals, with lo rounded down and hi
 * rounded up to multiples of it when `expand` is TRUE (otherwise the
 * ticks are the multiples of step inside [lo, hi]). `decimals` is what a
 * label needs to show the step exactly. lo == hi is widened first;
 * max_ticks below 1 counts as 1. */
typedef struct ana_svg_ticks {
    double lo, hi;     /* the range, expanded if asked */
    double first;      /* the first tick, a multiple of step, >= lo */
    double step;
    size_t n;          /* ticks: first, first + step, ... (<= hi) */
    int decimals;
} ana_svg_ticks;

void ana_svg_ticks_choose(double lo, double hi, unsigned max_ticks,
                          gboolean expand, ana_svg_ticks *out);

/* Ticks of a log axis over [lo, hi], 0 < lo < hi: with `expand`, lo is
 * rounded down and hi up to 1, 2 or 5 x 10^k; ticks are at 1, 2 and 5 x
 * 10^k when the range spans at most three decades, else at powers of ten
 * (every k-th one when even those would be too many). decimals[i] is what
 * tick i's label needs. A bad range (lo <= 0, hi <= lo) is replaced by a
 * decade. */
#define ANA_SVG_MAX_TICKS 32
typedef struct ana_svg_log_ticks {
    double lo, hi;
    double tick[ANA_SVG_MAX_TICKS];
    int decimals[ANA_SVG_MAX_TICKS];
    size_t n;
} ana_svg_log_ticks;

void ana_svg_log_ticks_choose(double lo, double hi, gboolean expand,
                              ana_svg_log_ticks *out);

typedef struct ana_svg_figure ana_svg_figure;

/* A new empty figure with a title (copied; may be NULL). Free it with
 * ana_svg_figure_free(). It is 1000 px wide and at least 400 px high
 * (more for a long legend or rows of marker labels). */
ana_svg_figure *ana_svg_figure_new(const char *title);
void ana_svg_figure_free(ana_svg_figure *fig);

/* The axis label (copied; the unit is appended for TIME_US and PERCENT,
 * e.g. "time since creation (ms)") and how values are shown. */
void ana_svg_figure_set_axis(ana_svg_figure *fig, ana_svg_axis axis,
                             const char *label, ana_svg_scale scale);

/* Fixes one or both ends of an axis, in data units. NAN leaves that end
 * to the data (rounded out to a tick). Data outside the range is clipped. */
void ana_svg_figure_set_range(ana_svg_figure *fig, ana_svg_axis axis,
                              double lo, double hi);

/* A logarithmic axis (FALSE: linear, the default). Its range comes from
 * the positive values; zero and negative ones are drawn at its low end.
 * The axis label says "log scale". */
void ana_svg_figure_set_log(ana_svg_figure *fig, ana_svg_axis axis,
                            gboolean log);

/* Ticks of an axis are at least `step` apart (in data units): 1 keeps a
 * fan-out axis on whole numbers. 0 (the default) sets no minimum. */
void ana_svg_figure_set_min_step(ana_svg_figure *fig, ana_svg_axis axis,
                                 double step);

/* A polyline through (x[i], y[i]). `label` NULL: no legend entry. */
void ana_svg_figure_line(ana_svg_figure *fig, const char *label,
                         unsigned colour, ana_svg_dash dash,
                         const double *x, const double *y, size_t n);

/* A shaded polygon between two edges: along edge 1 (x1, y1) forward,
 * then edge 2 (x2, y2) backward. Either orientation works: a vertical
 * band has the same x on both edges, a horizontal one the same y. */
void ana_svg_figure_band(ana_svg_figure *fig, const char *label,
                         unsigned colour, const double *x1,
                         const double *y1, size_t n1, const double *x2,
                         const double *y2, size_t n2);

/* Points at (x[i], y[i]), each with a vertical whisker from lo[i] to
 * hi[i] when lo and hi are given (either may be NULL). */
void ana_svg_figure_points(ana_svg_figure *fig, const char *label,
                           unsigned colour, const double *x, const double *y,
                           const double *lo, const double *hi, size_t n);

/* A vertical dashed grey line at x, with a label (may be NULL) in a row
 * above the plot: each label goes in the first row where it clears its
 * neighbours (up to five rows; one that fits in none is left out, its
 * line stays), and markers at the same pixel share one label. */
void ana_svg_figure_marker(ana_svg_figure *fig, double x, const char *label);

/* A legend entry of its own, drawn as a grey line sample of `dash`: how to
 * read a style shared by several series ("dashed: live nodes / N"). */
void ana_svg_figure_note(ana_svg_figure *fig, const char *label,
                         ana_svg_dash dash);

/* Appends the figure as one <svg> element (with its xmlns, so it can sit
 * in XHTML). `id` (an XML name, unique in the document) prefixes the ids
 * the figure defines. A figure without data draws empty axes over 0..1. */
void ana_svg_figure_write(const ana_svg_figure *fig, const char *id,
                          GString *out);

G_END_DECLS

#endif /* ANA_SVG_H */
