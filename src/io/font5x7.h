/* A 5x7 bitmap font for the annotated-video sink: digits, lowercase letters and a few marks.
 * Each glyph is 7 rows of 5 bits (bit 4 = leftmost column). */
#ifndef PANOPTES_IO_FONT5X7_H
#define PANOPTES_IO_FONT5X7_H

#include <stdint.h>

static const uint8_t *pan__font5x7(char c)
{
    static const uint8_t digits[10][7] = {
        {14, 17, 19, 21, 25, 17, 14}, {4, 12, 4, 4, 4, 4, 14},   {14, 17, 1, 2, 4, 8, 31},
        {31, 2, 4, 2, 1, 17, 14},     {2, 6, 10, 18, 31, 2, 2},  {31, 16, 30, 1, 1, 17, 14},
        {6, 8, 16, 30, 17, 17, 14},   {31, 1, 2, 4, 8, 8, 8},    {14, 17, 17, 14, 17, 17, 14},
        {14, 17, 17, 15, 1, 2, 12},
    };
    static const uint8_t letters[26][7] = {
        {0, 0, 14, 1, 15, 17, 15},   {16, 16, 22, 25, 17, 17, 30}, {0, 0, 14, 16, 16, 17, 14},
        {1, 1, 13, 19, 17, 17, 15},  {0, 0, 14, 17, 31, 16, 14},   {6, 9, 8, 28, 8, 8, 8},
        {0, 15, 17, 17, 15, 1, 14},  {16, 16, 22, 25, 17, 17, 17}, {4, 0, 12, 4, 4, 4, 14},
        {2, 0, 6, 2, 2, 18, 12},     {16, 16, 18, 20, 24, 20, 18}, {12, 4, 4, 4, 4, 4, 14},
        {0, 0, 26, 21, 21, 17, 17},  {0, 0, 22, 25, 17, 17, 17},   {0, 0, 14, 17, 17, 17, 14},
        {0, 0, 30, 17, 30, 16, 16},  {0, 0, 13, 19, 15, 1, 1},     {0, 0, 22, 25, 16, 16, 16},
        {0, 0, 14, 16, 14, 1, 30},   {8, 8, 28, 8, 8, 9, 6},       {0, 0, 17, 17, 17, 19, 13},
        {0, 0, 17, 17, 17, 10, 4},   {0, 0, 17, 17, 21, 21, 10},   {0, 0, 17, 10, 4, 10, 17},
        {0, 0, 17, 17, 15, 1, 14},   {0, 0, 31, 2, 4, 8, 31},
    };
    static const uint8_t hash[7] = {10, 10, 31, 10, 31, 10, 10};
    static const uint8_t dot[7] = {0, 0, 0, 0, 0, 12, 12};
    static const uint8_t colon[7] = {0, 12, 12, 0, 12, 12, 0};
    static const uint8_t dash[7] = {0, 0, 0, 31, 0, 0, 0};
    static const uint8_t blank[7] = {0};
    if (c >= '0' && c <= '9') return digits[c - '0'];
    if (c >= 'a' && c <= 'z') return letters[c - 'a'];
    if (c >= 'A' && c <= 'Z') return letters[c - 'A'];
    switch (c) {
    case '#': return hash;
    case '.': return dot;
    case ':': return colon;
    case '-': return dash;
    default: return blank;
    }
}

#endif
