/* The conversion of each class other than Email (as_item_codec.h). */
#include <stddef.h>

#include "activesync/as_item_codec.h"

const as_item_codec_t *as_item_codec(int cls)
{
    (void)cls; /* no class other than Email is served yet */
    return NULL;
}
