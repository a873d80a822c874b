/* The conversion of each class other than Email (as_item_codec.h). */
#include <stddef.h>

#include "activesync/as_item_codec.h"
#include "as_calendar_int.h"
#include "as_item_int.h"

const as_item_codec_t *as_item_codec(int cls)
{
    switch (cls) {
    case AS_CLASS_CONTACTS:
        return &as_contact_codec;
    case AS_CLASS_NOTES:
        return &as_note_codec;
    case AS_CLASS_CALENDAR:
        return &as_calendar_codec;
    case AS_CLASS_TASKS:
        return &as_task_codec;
    default:
        return NULL; /* Email has the MIME conversion */
    }
}

as_item_in_window_fn as_item_window(int cls)
{
    switch (cls) {
    case AS_CLASS_CALENDAR:
        return cal_event_in_window;
    case AS_CLASS_TASKS:
        return cal_task_in_window;
    default:
        return NULL;
    }
}

as_item_instance_fn as_item_instance(int cls)
{
    return cls == AS_CLASS_CALENDAR ? cal_event_instance_from_eas : NULL;
}
