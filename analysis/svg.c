/* svg.c: the SVG writer of `peko plot` (svg.h). */
#include "svg.h"

#include <math.h>
#include <string.h>

/* Layout, in px. The plot area has a fixed size so figures line up on a
 * page; the legend sits to its right and the figure grows downward when
 * the legend needs more room. */
enum {
    FIG_WIDTH = 1000,
    FIG_HEIGHT = 400,
    PLOT_LEFT = 76,    /* room for the y tick labels and axis label */
    PLOT_TOP = 44,     /* room for the title; marker labels add rows */
    PLOT_WIDTH = 610,
    PLOT_HEIGHT = 296,
    LEGEND_LEFT = PLOT_LEFT + PLOT_WIDTH + 24,
    LEGEND_ROW = 18,
    LEGEND_CHARS = 40, /* labels longer than this are shortened */
    MARKER_ROW = 13,   /* px per row of marker labels above the plot */
    MARKER_ROWS = 5,   /* rows at most; labels that fit in none are left
                        * out (the line stays) */
    MARKER_CHARS = 40, /* marker labels longer than this are shortened */
    X_TICKS = 8,
    Y_TICKS = 6,
};

/* Okabe, M. and Ito, K., "Color Universal Design" (2002). */
static const char *const palette[ANA_SVG_COLOURS] = {
    "#0072B2", /* blue */
    "#E69F00", /* orange */
    "#009E73", /* bluish green */
    "#D55E00", /* vermillion */
    "#CC79A7", /* reddish purple */
    "#56B4E9", /* sky blue */
    "#000000", /* black */
    "#F0E442", /* yellow */
};

const char *ana_svg_colour(unsigned i)
{
    return palette[i % ANA_SVG_COLOURS];
}

/* ------------------------------------------------------------------ */
/* Text and numbers.                                                    */

static gboolean xml_char_ok(gunichar c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

void ana_svg_append_escaped(GString *out, const char *text)
{
    if (text == NULL)
        return;
    char *valid = g_utf8_make_valid(text, -1);
    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        switch (c) {
        case '&': g_string_append(out, "&amp;"); break;
        case '<': g_string_append(out, "&lt;"); break;
        case '>': g_string_append(out, "&gt;"); break;
        case '"': g_string_append(out, "&quot;"); break;
        case '\'': g_string_append(out, "&apos;"); break;
        default:
            g_string_append_unichar(out, xml_char_ok(c) ? c : 0xFFFD);
        }
    }
    g_free(valid);
}

void ana_svg_append_number(GString *out, double value, int decimals)
{
    if (!isfinite(value))
        value = 0;
    decimals = CLAMP(decimals, 0, 9);
    char format[8], buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_snprintf(format, sizeof format, "%%.%df", decimals);
    g_ascii_formatd(buf, sizeof buf, format, value);
    if (decimals > 0) {
        /* "12.50" stays (a tick label keeps its step's digits) unless the
         * whole fraction is zero: "12.0" is written "12". */
        char *dot = strchr(buf, '.');
        if (dot && strspn(dot + 1, "0") == strlen(dot + 1))
            *dot = 0;
    }
    if (strcmp(buf, "-0") == 0)
        g_string_append_c(out, '0');
    else
        g_string_append(out, buf);
}

/* A label cut to at most `max` characters, with an ellipsis when cut. */
static char *shorten(const char *text, size_t max)
{
    if (text == NULL)
        return g_strdup("");
    char *valid = g_utf8_make_valid(text, -1);
    if ((size_t)g_utf8_strlen(valid, -1) <= max || max < 2)
        return valid;
    char *cut = g_utf8_substring(valid, 0, (glong)max - 1);
    char *result = g_strconcat(cut, "\u2026", NULL);
    g_free(cut);
    g_free(valid);
    return result;
}

/* ------------------------------------------------------------------ */
/* Ticks.                                                               */

static double nice_step(double span, unsigned max_ticks)
{
    double raw = span / (double)MAX(max_ticks, 1u);
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    /* A little slack so 0.2 / 1 does not become 0.5 through rounding. */
    double m = norm <= 1 + 1e-9   ? 1
               : norm <= 2 + 1e-9 ? 2
               : norm <= 5 + 1e-9 ? 5
                                  : 10;
    return m * mag;
}

static void choose_ticks(double lo, double hi, unsigned max_ticks,
                         double min_step, gboolean expand_lo,
                         gboolean expand_hi, ana_svg_ticks *out)
{
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (hi < lo) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi - lo <= 1e-12 * MAX(fabs(lo), fabs(hi))) {
        /* An empty range: widen the ends that may move, or both when
         * neither may (an empty range cannot be drawn). */
        double pad = lo == 0 ? 1 : fabs(lo) * 0.1;
        gboolean both = expand_lo == expand_hi;
        if (expand_lo || both)
            lo -= pad;
        if (expand_hi || both)
            hi += pad;
    }
    double step = MAX(nice_step(hi - lo, max_ticks), min_step);
    if (expand_lo)
        lo = floor(lo / step + 1e-9) * step;
    if (expand_hi)
        hi = ceil(hi / step - 1e-9) * step;
    double first = ceil(lo / step - 1e-9) * step;
    size_t n = (size_t)floor((hi - first) / step + 1e-9) + 1;
    out->lo = lo;
    out->hi = hi;
    out->first = first;
    out->step = step;
    out->n = n;
    out->decimals = MAX(0, -(int)floor(log10(step) + 1e-9));
}

void ana_svg_ticks_choose(double lo, double hi, unsigned max_ticks,
                          gboolean expand, ana_svg_ticks *out)
{
    choose_ticks(lo, hi, max_ticks, 0, expand, expand, out);
}

/* ------------------------------------------------------------------ */
/* The figure.                                                          */

typedef enum series_kind {
    SERIES_BAND,
    SERIES_LINE,
    SERIES_POINTS,
    SERIES_NOTE,
} series_kind;

typedef struct series {
    series_kind kind;
    char *label;         /* legend entry; NULL for none */
    unsigned colour;
    ana_svg_dash dash;
    double *x, *y;       /* line, points, band edge 1 */
    size_t n;
    double *x2, *y2;     /* band edge 2 */
    size_t n2;
    double *lo, *hi;     /* whiskers of points; may be NULL */
} series;

typedef struct marker {
    double x;
    char *label;
} marker;

typedef struct axis_spec {
    char *label;
    ana_svg_scale scale;
    double lo, hi;       /* fixed ends, NAN when left to the data */
    double min_step;     /* data units; 0 for none */
    gboolean log;
} axis_spec;

struct ana_svg_figure {
    char *title;
    axis_spec axis[2];
    GPtrArray *series;   /* of series, owned */
    GArray *markers;     /* of marker */
};

static void series_free(gpointer data)
{
    series *s = data;
    g_free(s->label);
    g_free(s->x);
    g_free(s->y);
    g_free(s->x2);
    g_free(s->y2);
    g_free(s->lo);
    g_free(s->hi);
    g_free(s);
}

static void marker_clear(gpointer data)
{
    g_free(((marker *)data)->label);
}

ana_svg_figure *ana_svg_figure_new(const char *title)
{
    ana_svg_figure *fig = g_new0(ana_svg_figure, 1);
    fig->title = g_strdup(title);
    for (int i = 0; i < 2; i++) {
        fig->axis[i].scale = ANA_SVG_LINEAR;
        fig->axis[i].lo = fig->axis[i].hi = NAN;
    }
    fig->series = g_ptr_array_new_with_free_func(series_free);
    fig->markers = g_array_new(FALSE, TRUE, sizeof(marker));
    g_array_set_clear_func(fig->markers, marker_clear);
    return fig;
}

void ana_svg_figure_free(ana_svg_figure *fig)
{
    if (fig == NULL)
        return;
    g_free(fig->title);
    g_free(fig->axis[0].label);
    g_free(fig->axis[1].label);
    g_ptr_array_free(fig->series, TRUE);
    g_array_free(fig->markers, TRUE);
    g_free(fig);
}

void ana_svg_figure_set_axis(ana_svg_figure *fig, ana_svg_axis axis,
                             const char *label, ana_svg_scale scale)
{
    g_return_if_fail(fig != NULL && (axis == ANA_SVG_X || axis == ANA_SVG_Y));
    g_free(fig->axis[axis].label);
    fig->axis[axis].label = g_strdup(label);
    fig->axis[axis].scale = scale;
}

void ana_svg_figure_set_range(ana_svg_figure *fig, ana_svg_axis axis,
                              double lo, double hi)
{
    g_return_if_fail(fig != NULL && (axis == ANA_SVG_X || axis == ANA_SVG_Y));
    fig->axis[axis].lo = lo;
    fig->axis[axis].hi = hi;
}

void ana_svg_figure_set_min_step(ana_svg_figure *fig, ana_svg_axis axis,
                                 double step)
{
    g_return_if_fail(fig != NULL && (axis == ANA_SVG_X || axis == ANA_SVG_Y));
    fig->axis[axis].min_step = isfinite(step) && step > 0 ? step : 0;
}

void ana_svg_figure_set_log(ana_svg_figure *fig, ana_svg_axis axis,
                            gboolean log)
{
    g_return_if_fail(fig != NULL && (axis == ANA_SVG_X || axis == ANA_SVG_Y));
    fig->axis[axis].log = log;
}

static double *copy(const double *v, size_t n)
{
    return v && n ? g_memdup2(v, n * sizeof *v) : NULL;
}

static series *add_series(ana_svg_figure *fig, series_kind kind,
                          const char *label, unsigned colour,
                          ana_svg_dash dash)
{
    series *s = g_new0(series, 1);
    s->kind = kind;
    s->label = g_strdup(label);
    s->colour = colour;
    s->dash = dash;
    g_ptr_array_add(fig->series, s);
    return s;
}

void ana_svg_figure_line(ana_svg_figure *fig, const char *label,
                         unsigned colour, ana_svg_dash dash,
                         const double *x, const double *y, size_t n)
{
    g_return_if_fail(fig != NULL && (n == 0 || (x && y)));
    series *s = add_series(fig, SERIES_LINE, label, colour, dash);
    s->x = copy(x, n);
    s->y = copy(y, n);
    s->n = n;
}

void ana_svg_figure_band(ana_svg_figure *fig, const char *label,
                         unsigned colour, const double *x1,
                         const double *y1, size_t n1, const double *x2,
                         const double *y2, size_t n2)
{
    g_return_if_fail(fig != NULL && (n1 == 0 || (x1 && y1)) &&
                     (n2 == 0 || (x2 && y2)));
    series *s = add_series(fig, SERIES_BAND, label, colour, ANA_SVG_SOLID);
    s->x = copy(x1, n1);
    s->y = copy(y1, n1);
    s->n = n1;
    s->x2 = copy(x2, n2);
    s->y2 = copy(y2, n2);
    s->n2 = n2;
}

void ana_svg_figure_points(ana_svg_figure *fig, const char *label,
                           unsigned colour, const double *x, const double *y,
                           const double *lo, const double *hi, size_t n)
{
    g_return_if_fail(fig != NULL && (n == 0 || (x && y)));
    series *s = add_series(fig, SERIES_POINTS, label, colour, ANA_SVG_SOLID);
    s->x = copy(x, n);
    s->y = copy(y, n);
    s->lo = copy(lo, n);
    s->hi = copy(hi, n);
    s->n = n;
}

void ana_svg_figure_marker(ana_svg_figure *fig, double x, const char *label)
{
    g_return_if_fail(fig != NULL);
    if (!isfinite(x))
        return;
    marker m = {.x = x, .label = g_strdup(label)};
    g_array_append_val(fig->markers, m);
}

void ana_svg_figure_note(ana_svg_figure *fig, const char *label,
                         ana_svg_dash dash)
{
    g_return_if_fail(fig != NULL);
    add_series(fig, SERIES_NOTE, label, ANA_SVG_BLACK, dash);
}

/* ------------------------------------------------------------------ */
/* Writing.                                                             */

/* One axis as drawn: data range, ticks in display units, and the factor
 * from data to display units. */
typedef struct scale {
    double lo, hi;       /* data units */
    gboolean log;
    double factor;       /* display = data * factor */
    const char *unit;    /* appended to the axis label; NULL for none */
    double tick[ANA_SVG_MAX_TICKS]; /* display units */
    int decimals[ANA_SVG_MAX_TICKS];
    size_t n_ticks;
    double px0, px1;     /* pixels of lo and hi */
} scale;

/* An infinite value is drawn just past that end of the axis, where the
 * clip path hides it: a curve that goes on beyond the plot. On a log axis
 * zero and negative values sit at the low end (a time of 0 on a log time
 * axis is where the curve starts). */
static double to_px(const scale *s, double v)
{
    if (isinf(v)) {
        double past = s->px1 > s->px0 ? 20 : -20;
        return v > 0 ? s->px1 + past : s->px0 - past;
    }
    if (s->log) {
        if (v <= 0)
            return s->px0;
        return s->px0 + (log10(v) - log10(s->lo)) /
                            (log10(s->hi) - log10(s->lo)) * (s->px1 - s->px0);
    }
    return s->px0 + (v - s->lo) / (s->hi - s->lo) * (s->px1 - s->px0);
}

static void extend(double *lo, double *hi, double v, gboolean positive)
{
    if (!isfinite(v) || (positive && v <= 0))
        return;
    if (v < *lo)
        *lo = v;
    if (v > *hi)
        *hi = v;
}

/* The range of the finite values on an axis (of the positive ones for a
 * log axis); lo > hi when there are none. */
static void extents(const ana_svg_figure *fig, ana_svg_axis axis,
                    gboolean positive, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (guint i = 0; i < fig->series->len; i++) {
        const series *s = g_ptr_array_index(fig->series, i);
        const double *a = axis == ANA_SVG_X ? s->x : s->y;
        const double *b = axis == ANA_SVG_X ? s->x2 : s->y2;
        for (size_t j = 0; j < s->n; j++) {
            extend(lo, hi, a[j], positive);
            if (axis == ANA_SVG_Y && s->lo)
                extend(lo, hi, s->lo[j], positive);
            if (axis == ANA_SVG_Y && s->hi)
                extend(lo, hi, s->hi[j], positive);
        }
        for (size_t j = 0; j < s->n2; j++)
            extend(lo, hi, b[j], positive);
    }
    if (axis == ANA_SVG_X)
        for (guint i = 0; i < fig->markers->len; i++)
            extend(lo, hi, g_array_index(fig->markers, marker, i).x,
                   positive);
}

/* The largest of 1, 2, 5 x 10^k at most v (down) or the smallest at
 * least v (up); v > 0. */
static double round_125(double v, gboolean up)
{
    static const double m[] = {1, 2, 5, 10};
    double mag = pow(10, floor(log10(v)));
    if (up) {
        for (size_t i = 0; i < G_N_ELEMENTS(m); i++)
            if (m[i] * mag >= v * (1 - 1e-9))
                return m[i] * mag;
        return 10 * mag;
    }
    for (size_t i = G_N_ELEMENTS(m); i-- > 0;)
        if (m[i] * mag <= v * (1 + 1e-9))
            return m[i] * mag;
    return mag;
}

void ana_svg_log_ticks_choose(double lo, double hi, gboolean expand,
                              ana_svg_log_ticks *out)
{
    if (!(lo > 0) || !isfinite(lo))
        lo = hi > 0 && isfinite(hi) ? hi / 10 : 1;
    if (!(hi > lo) || !isfinite(hi))
        hi = lo * 10;
    if (expand) {
        lo = round_125(lo, FALSE);
        hi = round_125(hi, TRUE);
    }
    out->lo = lo;
    out->hi = hi;
    out->n = 0;
    double decades = log10(hi) - log10(lo);
    /* 1-2-5 in each decade while they fit, else powers of ten, every
     * k-th of them over a very wide range. */
    gboolean fine = decades <= 3 + 1e-9;
    int every = MAX(1, (int)ceil(decades / (ANA_SVG_MAX_TICKS / 2.0)));
    static const double m[] = {1, 2, 5};
    for (int k = (int)floor(log10(lo)) - 1;
         k <= (int)ceil(log10(hi)) && out->n < ANA_SVG_MAX_TICKS; k++) {
        if (!fine && k % every != 0)
            continue;
        for (size_t i = 0; i < (fine ? G_N_ELEMENTS(m) : 1); i++) {
            double v = m[i] * pow(10, k);
            if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) &&
                out->n < ANA_SVG_MAX_TICKS) {
                out->tick[out->n] = v;
                out->decimals[out->n] = MAX(0, -k);
                out->n++;
            }
        }
    }
}

static void choose_unit(const axis_spec *spec, double lo, double hi,
                        scale *s)
{
    s->factor = 1;
    s->unit = NULL;
    switch (spec->scale) {
    case ANA_SVG_LINEAR:
        break;
    case ANA_SVG_PERCENT:
        s->factor = 100;
        s->unit = "%";
        break;
    case ANA_SVG_TIME_US: {
        double m = MAX(fabs(lo), fabs(hi));
        if (m >= 2e6) {
            s->factor = 1e-6;
            s->unit = "s";
        } else if (m >= 2e3) {
            s->factor = 1e-3;
            s->unit = "ms";
        } else {
            s->unit = "\u00b5s";
        }
        break;
    }
    }
}

static void make_scale(const ana_svg_figure *fig, ana_svg_axis axis,
                       int top, scale *s)
{
    const axis_spec *spec = &fig->axis[axis];
    s->log = spec->log;
    double lo, hi;
    extents(fig, axis, spec->log, &lo, &hi);
    gboolean fixed_lo = isfinite(spec->lo) && (!spec->log || spec->lo > 0);
    gboolean fixed_hi = isfinite(spec->hi) && (!spec->log || spec->hi > 0);
    if (fixed_lo)
        lo = spec->lo;
    if (fixed_hi)
        hi = spec->hi;
    if (spec->log) {
        choose_unit(spec, lo, hi, s);
        ana_svg_log_ticks ticks;
        ana_svg_log_ticks_choose(lo * s->factor, hi * s->factor,
                                 !fixed_lo || !fixed_hi, &ticks);
        /* A fixed end stays where it was put; ticks past it go. */
        if (fixed_lo && lo < hi)
            ticks.lo = lo * s->factor;
        if (fixed_hi && lo < hi)
            ticks.hi = hi * s->factor;
        s->lo = ticks.lo / s->factor;
        s->hi = ticks.hi / s->factor;
        s->n_ticks = 0;
        for (size_t i = 0; i < ticks.n; i++) {
            if (ticks.tick[i] < ticks.lo * (1 - 1e-9) ||
                ticks.tick[i] > ticks.hi * (1 + 1e-9))
                continue;
            s->tick[s->n_ticks] = ticks.tick[i];
            s->decimals[s->n_ticks++] = ticks.decimals[i];
        }
    } else {
        if (!isfinite(lo) && !isfinite(hi)) {
            lo = 0;
            hi = 1;
        } else if (!isfinite(lo)) {
            lo = MIN(0, hi);
        } else if (!isfinite(hi)) {
            hi = MAX(lo, 0) + 1;
        }
        choose_unit(spec, lo, hi, s);
        ana_svg_ticks ticks;
        choose_ticks(lo * s->factor, hi * s->factor,
                     axis == ANA_SVG_X ? X_TICKS : Y_TICKS,
                     spec->min_step * s->factor, !fixed_lo, !fixed_hi,
                     &ticks);
        s->lo = ticks.lo / s->factor;
        s->hi = ticks.hi / s->factor;
        s->n_ticks = MIN(ticks.n, (size_t)ANA_SVG_MAX_TICKS);
        for (size_t i = 0; i < s->n_ticks; i++) {
            s->tick[i] = ticks.first + (double)i * ticks.step;
            s->decimals[i] = ticks.decimals;
        }
    }
    if (axis == ANA_SVG_X) {
        s->px0 = PLOT_LEFT;
        s->px1 = PLOT_LEFT + PLOT_WIDTH;
    } else {
        s->px0 = top + PLOT_HEIGHT;
        s->px1 = top;
    }
}

/* Appends ` name="value"` with a number of one decimal. */
static void attr_num(GString *out, const char *name, double v)
{
    g_string_append_printf(out, " %s=\"", name);
    ana_svg_append_number(out, v, 1);
    g_string_append_c(out, '"');
}

static void append_xy(GString *out, double x, double y)
{
    ana_svg_append_number(out, x, 1);
    g_string_append_c(out, ',');
    ana_svg_append_number(out, y, 1);
}

static const char *dash_array(ana_svg_dash dash)
{
    switch (dash) {
    case ANA_SVG_DASHED: return "7 4";
    case ANA_SVG_DOTTED: return "2 3";
    case ANA_SVG_SOLID: break;
    }
    return NULL;
}

static void stroke_attrs(GString *out, unsigned colour, ana_svg_dash dash,
                         double width)
{
    g_string_append_printf(out, " fill=\"none\" stroke=\"%s\"",
                           ana_svg_colour(colour));
    attr_num(out, "stroke-width", width);
    const char *d = dash_array(dash);
    if (d)
        g_string_append_printf(out, " stroke-dasharray=\"%s\"", d);
}

/* Positions far outside the plot (a value a thousand widths away) are
 * pulled in, so the clip path does the cutting and no coordinate is huge. */
static double clamp_px(double v)
{
    return CLAMP(v, -10.0 * FIG_WIDTH, 10.0 * FIG_WIDTH);
}

static void write_line(GString *out, const series *s, const scale *sx,
                       const scale *sy)
{
    GString *d = g_string_new(NULL);
    gboolean pen_down = FALSE;
    for (size_t i = 0; i < s->n; i++) {
        if (isnan(s->x[i]) || isnan(s->y[i])) {
            pen_down = FALSE;
            continue;
        }
        g_string_append_c(d, pen_down ? 'L' : 'M');
        append_xy(d, clamp_px(to_px(sx, s->x[i])),
                  clamp_px(to_px(sy, s->y[i])));
        pen_down = TRUE;
    }
    if (d->len > 0) {
        g_string_append(out, "<path d=\"");
        g_string_append(out, d->str);
        g_string_append_c(out, '"');
        stroke_attrs(out, s->colour, s->dash, 2);
        g_string_append(out, " stroke-linejoin=\"round\"/>\n");
    }
    g_string_free(d, TRUE);
}

/* Bands are light enough for lines to show through; a black one (a
 * summary over everything) lighter still. */
static const char *band_opacity(unsigned colour)
{
    return colour % ANA_SVG_COLOURS == ANA_SVG_BLACK ? "0.12" : "0.2";
}

static void write_band(GString *out, const series *s, const scale *sx,
                       const scale *sy)
{
    GString *pts = g_string_new(NULL);
    size_t vertices = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (isnan(s->x[i]) || isnan(s->y[i]))
            continue;
        if (pts->len)
            g_string_append_c(pts, ' ');
        append_xy(pts, clamp_px(to_px(sx, s->x[i])),
                  clamp_px(to_px(sy, s->y[i])));
        vertices++;
    }
    for (size_t i = s->n2; i-- > 0;) {
        if (isnan(s->x2[i]) || isnan(s->y2[i]))
            continue;
        if (pts->len)
            g_string_append_c(pts, ' ');
        append_xy(pts, clamp_px(to_px(sx, s->x2[i])),
                  clamp_px(to_px(sy, s->y2[i])));
        vertices++;
    }
    if (vertices >= 3)
        g_string_append_printf(out,
                               "<polygon points=\"%s\" fill=\"%s\""
                               " fill-opacity=\"%s\" stroke=\"none\"/>\n",
                               pts->str, ana_svg_colour(s->colour),
                               band_opacity(s->colour));
    g_string_free(pts, TRUE);
}

static void write_whisker(GString *out, unsigned colour, double x, double y0,
                          double y1)
{
    g_string_append_printf(out, "<path d=\"M");
    append_xy(out, x, y0);
    g_string_append_c(out, 'L');
    append_xy(out, x, y1);
    g_string_append_c(out, 'M');
    append_xy(out, x - 4, y0);
    g_string_append_c(out, 'L');
    append_xy(out, x + 4, y0);
    g_string_append_c(out, 'M');
    append_xy(out, x - 4, y1);
    g_string_append_c(out, 'L');
    append_xy(out, x + 4, y1);
    g_string_append_c(out, '"');
    stroke_attrs(out, colour, ANA_SVG_SOLID, 1.5);
    g_string_append(out, "/>\n");
}

static void write_dot(GString *out, unsigned colour, double x, double y)
{
    g_string_append(out, "<circle");
    attr_num(out, "cx", x);
    attr_num(out, "cy", y);
    g_string_append_printf(out, " r=\"4\" fill=\"%s\" stroke=\"#fff\""
                                " stroke-width=\"1\"/>\n",
                           ana_svg_colour(colour));
}

static void write_points(GString *out, const series *s, const scale *sx,
                         const scale *sy)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]))
            continue;
        double x = clamp_px(to_px(sx, s->x[i]));
        double lo = s->lo ? s->lo[i] : NAN, hi = s->hi ? s->hi[i] : NAN;
        if (!isnan(lo) && !isnan(hi) && lo != hi)
            write_whisker(out, s->colour, x, clamp_px(to_px(sy, lo)),
                          clamp_px(to_px(sy, hi)));
        if (isfinite(s->y[i]))
            write_dot(out, s->colour, x, clamp_px(to_px(sy, s->y[i])));
    }
}

static void write_text(GString *out, double x, double y, const char *anchor,
                       const char *extra, const char *text)
{
    g_string_append(out, "<text");
    attr_num(out, "x", x);
    attr_num(out, "y", y);
    if (anchor)
        g_string_append_printf(out, " text-anchor=\"%s\"", anchor);
    if (extra) {
        g_string_append_c(out, ' ');
        g_string_append(out, extra);
    }
    g_string_append_c(out, '>');
    ana_svg_append_escaped(out, text);
    g_string_append(out, "</text>\n");
}

static void write_axes(GString *out, const ana_svg_figure *fig,
                       const scale *sx, const scale *sy)
{
    const double top = sy->px1, bottom = sy->px0;
    /* Grid lines at every tick, under everything else. */
    g_string_append(out, "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n");
    for (size_t i = 0; i < sx->n_ticks; i++) {
        double px = to_px(sx, sx->tick[i] / sx->factor);
        g_string_append(out, "<line");
        attr_num(out, "x1", px);
        attr_num(out, "x2", px);
        attr_num(out, "y1", top);
        attr_num(out, "y2", bottom);
        g_string_append(out, "/>\n");
    }
    for (size_t i = 0; i < sy->n_ticks; i++) {
        double py = to_px(sy, sy->tick[i] / sy->factor);
        g_string_append(out, "<line");
        attr_num(out, "x1", PLOT_LEFT);
        attr_num(out, "x2", PLOT_LEFT + PLOT_WIDTH);
        attr_num(out, "y1", py);
        attr_num(out, "y2", py);
        g_string_append(out, "/>\n");
    }
    g_string_append(out, "</g>\n");

    /* Ticks and their labels. */
    g_string_append(out, "<g fill=\"#222\">\n");
    for (size_t i = 0; i < sx->n_ticks; i++) {
        double v = sx->tick[i];
        double px = to_px(sx, v / sx->factor);
        GString *label = g_string_new(NULL);
        ana_svg_append_number(label, v, sx->decimals[i]);
        g_string_append(out, "<line stroke=\"#222\"");
        attr_num(out, "x1", px);
        attr_num(out, "x2", px);
        attr_num(out, "y1", bottom);
        attr_num(out, "y2", bottom + 5);
        g_string_append(out, "/>\n");
        write_text(out, px, bottom + 19, "middle", NULL,
                   label->str);
        g_string_free(label, TRUE);
    }
    for (size_t i = 0; i < sy->n_ticks; i++) {
        double v = sy->tick[i];
        double py = to_px(sy, v / sy->factor);
        GString *label = g_string_new(NULL);
        ana_svg_append_number(label, v, sy->decimals[i]);
        g_string_append(out, "<line stroke=\"#222\"");
        attr_num(out, "x1", PLOT_LEFT - 5);
        attr_num(out, "x2", PLOT_LEFT);
        attr_num(out, "y1", py);
        attr_num(out, "y2", py);
        g_string_append(out, "/>\n");
        write_text(out, PLOT_LEFT - 8, py + 4, "end", NULL, label->str);
        g_string_free(label, TRUE);
    }
    g_string_append(out, "</g>\n");

    /* The frame: axis lines left and bottom. */
    g_string_append_printf(out,
                           "<path d=\"M%d,%dV%dH%d\" fill=\"none\""
                           " stroke=\"#222\" stroke-width=\"1\"/>\n",
                           PLOT_LEFT, (int)top, (int)bottom,
                           PLOT_LEFT + PLOT_WIDTH);

    /* Axis labels, with the unit shown. */
    for (int a = 0; a < 2; a++) {
        const scale *s = a == ANA_SVG_X ? sx : sy;
        const char *text = fig->axis[a].label ? fig->axis[a].label : "";
        char *label =
            s->unit ? g_strdup_printf("%s (%s%s)", text, s->unit,
                                      s->log ? ", log scale" : "")
            : s->log ? g_strdup_printf("%s (log scale)", text)
                     : g_strdup(text);
        if (a == ANA_SVG_X) {
            write_text(out, PLOT_LEFT + PLOT_WIDTH / 2.0,
                       bottom + 40, "middle", NULL, label);
        } else {
            double x = 18, y = (top + bottom) / 2;
            char *rotate = g_strdup_printf("transform=\"rotate(-90 %d %d)\"",
                                           (int)x, (int)y);
            write_text(out, x, y, "middle", rotate, label);
            g_free(rotate);
        }
        g_free(label);
    }
}

static gint compare_marker(gconstpointer a, gconstpointer b)
{
    double xa = ((const marker *)a)->x, xb = ((const marker *)b)->x;
    return xa < xb ? -1 : xa > xb;
}

/* A marker as drawn: its line, and its label's place above the plot. */
typedef struct placed_marker {
    double px;
    char *text;          /* owned; NULL when the label did not fit */
    int row;             /* 0 is the row next to the plot */
    gboolean to_left;    /* the label ends at the line (near the right) */
} placed_marker;

static void placed_marker_clear(gpointer p)
{
    g_free(((placed_marker *)p)->text);
}

/* Rough width of a 10 px sans-serif label: enough to keep labels apart. */
static double label_width(const char *text)
{
    return 5.8 * (double)g_utf8_strlen(text, -1);
}

/* Places the markers' labels in rows above the plot, each beside its
 * line, in the first row where it clears the previous label; markers at
 * the same pixel share one label ("crash (+2)"). Returns the placed
 * markers (in x order) and sets *rows to the rows used. */
static GArray *place_markers(const ana_svg_figure *fig, const scale *sx,
                             int *rows)
{
    GArray *placed = g_array_new(FALSE, TRUE, sizeof(placed_marker));
    g_array_set_clear_func(placed, placed_marker_clear);
    *rows = 0;
    GArray *sorted = g_array_sized_new(FALSE, FALSE, sizeof(marker),
                                       fig->markers->len);
    g_array_append_vals(sorted, fig->markers->data, fig->markers->len);
    g_array_sort(sorted, compare_marker);
    double row_end[MARKER_ROWS];
    for (int r = 0; r < MARKER_ROWS; r++)
        row_end[r] = -INFINITY;
    for (guint i = 0; i < sorted->len;) {
        const marker *first = &g_array_index(sorted, marker, i);
        double px = to_px(sx, first->x);
        guint j = i + 1;
        while (j < sorted->len &&
               to_px(sx, g_array_index(sorted, marker, j).x) - px < 2)
            j++;
        if (px < PLOT_LEFT - 1 || px > PLOT_LEFT + PLOT_WIDTH + 1) {
            i = j;
            continue;
        }
        placed_marker m = {.px = px};
        if (first->label && first->label[0]) {
            char *text = j - i > 1 ? g_strdup_printf("%s (+%u)", first->label,
                                                     j - i - 1)
                                   : g_strdup(first->label);
            m.text = shorten(text, MARKER_CHARS);
            g_free(text);
            double w = label_width(m.text);
            m.to_left = px + 3 + w > FIG_WIDTH - 4;
            double from = m.to_left ? px - 3 - w : px + 3;
            double to = m.to_left ? px - 3 : px + 3 + w;
            int row = 0;
            while (row < MARKER_ROWS && row_end[row] > from - 6)
                row++;
            if (row < MARKER_ROWS) {
                m.row = row;
                row_end[row] = to;
                *rows = MAX(*rows, row + 1);
            } else {
                g_clear_pointer(&m.text, g_free);
            }
        }
        g_array_append_val(placed, m);
        i = j;
    }
    g_array_free(sorted, TRUE);
    return placed;
}

/* Dashed lines from each label down through the plot (under the data),
 * or the labels themselves. */
static void write_markers(GString *out, const GArray *placed,
                          const scale *sy, gboolean labels)
{
    if (placed->len == 0)
        return;
    const double top = sy->px1, bottom = sy->px0;
    if (!labels) {
        g_string_append(out, "<g stroke=\"#555\" stroke-width=\"1\""
                             " stroke-dasharray=\"5 4\">\n");
        for (guint i = 0; i < placed->len; i++) {
            const placed_marker *m = &g_array_index(placed, placed_marker, i);
            g_string_append(out, "<line");
            attr_num(out, "x1", m->px);
            attr_num(out, "x2", m->px);
            attr_num(out, "y1", top);
            attr_num(out, "y2", bottom);
            g_string_append(out, "/>\n");
        }
        g_string_append(out, "</g>\n");
        return;
    }
    /* A tick from each label's row down to the plot joins the two; the
     * labels come after all ticks, on a white halo, so a tick rising to
     * a higher row passes behind a lower label. */
    g_string_append(out, "<g stroke=\"#555\" stroke-width=\"1\">\n");
    for (guint i = 0; i < placed->len; i++) {
        const placed_marker *m = &g_array_index(placed, placed_marker, i);
        if (m->text == NULL)
            continue;
        double y = top - 4 - m->row * MARKER_ROW;
        g_string_append(out, "<line");
        attr_num(out, "x1", m->px);
        attr_num(out, "x2", m->px);
        attr_num(out, "y1", y - 9);
        attr_num(out, "y2", top);
        g_string_append(out, "/>\n");
    }
    g_string_append(out, "</g>\n<g font-size=\"10\" fill=\"#333\""
                         " stroke=\"#fff\" stroke-width=\"3\""
                         " paint-order=\"stroke\">\n");
    for (guint i = 0; i < placed->len; i++) {
        const placed_marker *m = &g_array_index(placed, placed_marker, i);
        if (m->text == NULL)
            continue;
        double y = top - 4 - m->row * MARKER_ROW;
        write_text(out, m->to_left ? m->px - 3 : m->px + 3, y,
                   m->to_left ? "end" : NULL, NULL, m->text);
    }
    g_string_append(out, "</g>\n");
}

static void write_legend(GString *out, const ana_svg_figure *fig, int top)
{
    double y = top + 6;
    for (guint i = 0; i < fig->series->len; i++) {
        const series *s = g_ptr_array_index(fig->series, i);
        if (s->label == NULL)
            continue;
        double x = LEGEND_LEFT, cy = y + LEGEND_ROW / 2.0;
        switch (s->kind) {
        case SERIES_BAND:
            g_string_append(out, "<rect");
            attr_num(out, "x", x);
            attr_num(out, "y", cy - 6);
            g_string_append_printf(out, " width=\"26\" height=\"12\""
                                        " fill=\"%s\" fill-opacity=\"%s\""
                                        " stroke=\"none\"/>\n",
                                   ana_svg_colour(s->colour),
                                   band_opacity(s->colour));
            break;
        case SERIES_LINE:
        case SERIES_NOTE:
            g_string_append(out, "<line");
            attr_num(out, "x1", x);
            attr_num(out, "x2", x + 26);
            attr_num(out, "y1", cy);
            attr_num(out, "y2", cy);
            if (s->kind == SERIES_NOTE) {
                g_string_append(out, " fill=\"none\" stroke=\"#666\""
                                     " stroke-width=\"2\"");
                const char *d = dash_array(s->dash);
                if (d)
                    g_string_append_printf(out, " stroke-dasharray=\"%s\"",
                                           d);
            } else {
                stroke_attrs(out, s->colour, s->dash, 2);
            }
            g_string_append(out, "/>\n");
            break;
        case SERIES_POINTS:
            if (s->lo && s->hi)
                write_whisker(out, s->colour, x + 13, cy - 6, cy + 6);
            write_dot(out, s->colour, x + 13, cy);
            break;
        }
        char *label = shorten(s->label, LEGEND_CHARS);
        write_text(out, x + 34, cy + 4, NULL, "font-size=\"11\"", label);
        g_free(label);
        y += LEGEND_ROW;
    }
}

static size_t legend_rows(const ana_svg_figure *fig)
{
    size_t rows = 0;
    for (guint i = 0; i < fig->series->len; i++)
        rows += ((const series *)g_ptr_array_index(fig->series, i))->label !=
                NULL;
    return rows;
}

void ana_svg_figure_write(const ana_svg_figure *fig, const char *id,
                          GString *out)
{
    g_return_if_fail(fig != NULL && id != NULL && out != NULL);
    scale sx, sy;
    make_scale(fig, ANA_SVG_X, PLOT_TOP, &sx);
    int rows;
    GArray *placed = place_markers(fig, &sx, &rows);
    int top = PLOT_TOP + rows * MARKER_ROW;
    make_scale(fig, ANA_SVG_Y, top, &sy);
    int height = MAX(FIG_HEIGHT + top - PLOT_TOP,
                     top + 6 + (int)legend_rows(fig) * LEGEND_ROW + 12);

    g_string_append_printf(out,
                           "<svg xmlns=\"http://www.w3.org/2000/svg\""
                           " width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                           " font-family=\"sans-serif\" font-size=\"12\""
                           " role=\"img\">\n",
                           FIG_WIDTH, height, FIG_WIDTH, height);
    g_string_append(out, "<title>");
    ana_svg_append_escaped(out, fig->title);
    g_string_append(out, "</title>\n");
    g_string_append_printf(out,
                           "<defs><clipPath id=\"%s-clip\"><rect x=\"%d\""
                           " y=\"%d\" width=\"%d\" height=\"%d\"/>"
                           "</clipPath></defs>\n",
                           id, PLOT_LEFT, top, PLOT_WIDTH, PLOT_HEIGHT);
    g_string_append_printf(out, "<rect width=\"%d\" height=\"%d\""
                                " fill=\"#fff\"/>\n",
                           FIG_WIDTH, height);
    write_text(out, PLOT_LEFT, 24, NULL,
               "font-size=\"15\" font-weight=\"bold\"", fig->title);
    write_axes(out, fig, &sx, &sy);

    g_string_append_printf(out, "<g clip-path=\"url(#%s-clip)\">\n", id);
    write_markers(out, placed, &sy, FALSE);
    for (series_kind k = SERIES_BAND; k <= SERIES_POINTS; k++) {
        for (guint i = 0; i < fig->series->len; i++) {
            const series *s = g_ptr_array_index(fig->series, i);
            if (s->kind != k)
                continue;
            if (k == SERIES_BAND)
                write_band(out, s, &sx, &sy);
            else if (k == SERIES_LINE)
                write_line(out, s, &sx, &sy);
            else
                write_points(out, s, &sx, &sy);
        }
    }
    g_string_append(out, "</g>\n");
    write_markers(out, placed, &sy, TRUE);
    write_legend(out, fig, top);
    g_string_append(out, "</svg>\n");
    g_array_free(placed, TRUE);
}
