/* EAS WBXML code pages 0-25: tag tokens and names (MS-ASWBXML section 2.1.2.1).
 *
 * Every page lists the tokens MS-ASWBXML gives for protocol versions 2.5 up to
 * 16.1, plus the pre-12.0 ("legacy") tokens that older clients may still send.
 * Legacy tokens are marked "legacy"; we only ever decode them, never emit them.
 *
 * Sources checked, token by token (facts only, nothing copied):
 *   - MS-ASWBXML 2.1.2.1.x tables and the element names of MS-ASCMD, MS-ASEMAIL,
 *     MS-ASCAL, MS-ASCNTC, MS-ASTASK, MS-ASAIRS, MS-ASPROV, MS-ASRM;
 *   - the schemas in /work/shared/conformance/xsd (spelling of names);
 *   - Microsoft's Interop-TestSuites MS-ASWBXML encoder (12.0+ tokens);
 *   - Z-Push/grommunio-sync wbxmldefs.php (legacy tokens);
 *   - libwbxml 0.11.8, probed with wbxml2xml (t/data/probe-libwbxml-names.py
 *     writes every name difference to t/data/libwbxml-names.tsv).
 *
 * Where the sources disagree:
 *   - Names follow the schemas / Microsoft's element names, not the libwbxml or
 *     Z-Push spellings (e.g. Email 0x19 "ReplyTo", not "Reply-To"; Calendar
 *     0x05 "Timezone" but Email 0x33 "TimeZone", both as the schemas spell them).
 *   - Find 0x19: the MS-ASWBXML table says "GalSearchCriterion" while MS-ASCMD
 *     and its FindRequest schema say "GALSearchCriterion"; we follow MS-ASWBXML.
 *   - ValidateCert 0x09: MS-ASCMD and MS-ASWBXML say "CheckCRL" (the MS test
 *     suite encoder writes "CheckCrl").
 *   - Tokens only one implementation knows and the specification does not list
 *     are left out: Calendar 0x2B-0x32 and Ping 0x0E (Z-Push: "not defined"),
 *     ComposeMail 0x0A (Z-Push: "Type", unused).
 *
 * Namespaces are the page name plus a colon ("AirSync:"), as libwbxml prints
 * them; page 16 is "GAL" in MS-ASWBXML and the schemas, libwbxml says "Gal:".
 */
#include <string.h>

#include "activesync/as_codepages.h"

#define NTAGS(a) (sizeof(a) / sizeof((a)[0]))

/* Page 0: AirSync */
static const as_codepage_tag_t cp_airsync[] = {
    {0x05, "Sync"},
    {0x06, "Responses"},
    {0x07, "Add"},
    {0x08, "Change"},
    {0x09, "Delete"},
    {0x0A, "Fetch"},
    {0x0B, "SyncKey"},
    {0x0C, "ClientId"},
    {0x0D, "ServerId"},
    {0x0E, "Status"},
    {0x0F, "Collection"},
    {0x10, "Class"},
    {0x11, "Version"}, /* legacy (2.x) */
    {0x12, "CollectionId"},
    {0x13, "GetChanges"},
    {0x14, "MoreAvailable"},
    {0x15, "WindowSize"},
    {0x16, "Commands"},
    {0x17, "Options"},
    {0x18, "FilterType"},
    {0x19, "Truncation"},    /* legacy (2.5), still in AirSync.xsd */
    {0x1A, "RTFTruncation"}, /* legacy (2.5) */
    {0x1B, "Conflict"},
    {0x1C, "Collections"},
    {0x1D, "ApplicationData"},
    {0x1E, "DeletesAsMoves"},
    {0x1F, "NotifyGUID"}, /* legacy (2.x) */
    {0x20, "Supported"},
    {0x21, "SoftDelete"},
    {0x22, "MIMESupport"},
    {0x23, "MIMETruncation"},
    {0x24, "Wait"},              /* 12.1 */
    {0x25, "Limit"},             /* 12.1 */
    {0x26, "Partial"},           /* 12.1 */
    {0x27, "ConversationMode"},  /* 14.0 */
    {0x28, "MaxItems"},          /* 14.0 */
    {0x29, "HeartbeatInterval"}, /* 14.0 */
};

/* Page 1: Contacts */
static const as_codepage_tag_t cp_contacts[] = {
    {0x05, "Anniversary"},
    {0x06, "AssistantName"},
    {0x07, "AssistantPhoneNumber"},
    {0x08, "Birthday"},
    {0x09, "Body"},          /* legacy (2.5) */
    {0x0A, "BodySize"},      /* legacy (2.5) */
    {0x0B, "BodyTruncated"}, /* legacy (2.5) */
    {0x0C, "Business2PhoneNumber"},
    {0x0D, "BusinessAddressCity"},
    {0x0E, "BusinessAddressCountry"},
    {0x0F, "BusinessAddressPostalCode"},
    {0x10, "BusinessAddressState"},
    {0x11, "BusinessAddressStreet"},
    {0x12, "BusinessFaxNumber"},
    {0x13, "BusinessPhoneNumber"},
    {0x14, "CarPhoneNumber"},
    {0x15, "Categories"},
    {0x16, "Category"},
    {0x17, "Children"},
    {0x18, "Child"},
    {0x19, "CompanyName"},
    {0x1A, "Department"},
    {0x1B, "Email1Address"},
    {0x1C, "Email2Address"},
    {0x1D, "Email3Address"},
    {0x1E, "FileAs"},
    {0x1F, "FirstName"},
    {0x20, "Home2PhoneNumber"},
    {0x21, "HomeAddressCity"},
    {0x22, "HomeAddressCountry"},
    {0x23, "HomeAddressPostalCode"},
    {0x24, "HomeAddressState"},
    {0x25, "HomeAddressStreet"},
    {0x26, "HomeFaxNumber"},
    {0x27, "HomePhoneNumber"},
    {0x28, "JobTitle"},
    {0x29, "LastName"},
    {0x2A, "MiddleName"},
    {0x2B, "MobilePhoneNumber"},
    {0x2C, "OfficeLocation"},
    {0x2D, "OtherAddressCity"},
    {0x2E, "OtherAddressCountry"},
    {0x2F, "OtherAddressPostalCode"},
    {0x30, "OtherAddressState"},
    {0x31, "OtherAddressStreet"},
    {0x32, "PagerNumber"},
    {0x33, "RadioPhoneNumber"},
    {0x34, "Spouse"},
    {0x35, "Suffix"},
    {0x36, "Title"},
    {0x37, "WebPage"},
    {0x38, "YomiCompanyName"},
    {0x39, "YomiFirstName"},
    {0x3A, "YomiLastName"},
    {0x3B, "Rtf"}, /* legacy (2.5): compressed RTF body */
    {0x3C, "Picture"},
    {0x3D, "Alias"},        /* 14.0 */
    {0x3E, "WeightedRank"}, /* 14.0 */
};

/* Page 2: Email */
static const as_codepage_tag_t cp_email[] = {
    {0x05, "Attachment"},    /* legacy (2.5) */
    {0x06, "Attachments"},   /* legacy (2.5) */
    {0x07, "AttName"},       /* legacy (2.5) */
    {0x08, "AttSize"},       /* legacy (2.5) */
    {0x09, "Att0Id"},        /* legacy (2.5); digit zero */
    {0x0A, "AttMethod"},     /* legacy (2.5) */
    {0x0B, "AttRemoved"},    /* legacy (2.5) */
    {0x0C, "Body"},          /* legacy (2.5) */
    {0x0D, "BodySize"},      /* legacy (2.5) */
    {0x0E, "BodyTruncated"}, /* legacy (2.5) */
    {0x0F, "DateReceived"},
    {0x10, "DisplayName"}, /* legacy (2.5) */
    {0x11, "DisplayTo"},
    {0x12, "Importance"},
    {0x13, "MessageClass"},
    {0x14, "Subject"},
    {0x15, "Read"},
    {0x16, "To"},
    {0x17, "Cc"},
    {0x18, "From"},
    {0x19, "ReplyTo"},
    {0x1A, "AllDayEvent"},
    {0x1B, "Categories"}, /* 14.0 */
    {0x1C, "Category"},   /* 14.0 */
    {0x1D, "DtStamp"},
    {0x1E, "EndTime"},
    {0x1F, "InstanceType"},
    {0x20, "BusyStatus"},
    {0x21, "Location"},
    {0x22, "MeetingRequest"},
    {0x23, "Organizer"},
    {0x24, "RecurrenceId"},
    {0x25, "Reminder"},
    {0x26, "ResponseRequested"},
    {0x27, "Recurrences"},
    {0x28, "Recurrence"},
    {0x29, "Type"},
    {0x2A, "Until"},
    {0x2B, "Occurrences"},
    {0x2C, "Interval"},
    {0x2D, "DayOfWeek"},
    {0x2E, "DayOfMonth"},
    {0x2F, "WeekOfMonth"},
    {0x30, "MonthOfYear"},
    {0x31, "StartTime"},
    {0x32, "Sensitivity"},
    {0x33, "TimeZone"},
    {0x34, "GlobalObjId"},
    {0x35, "ThreadTopic"},
    {0x36, "MIMEData"},      /* legacy (2.5) */
    {0x37, "MIMETruncated"}, /* legacy (2.5) */
    {0x38, "MIMESize"},      /* legacy (2.5) */
    {0x39, "InternetCPID"},
    {0x3A, "Flag"},                    /* 12.0 */
    {0x3B, "Status"},                  /* 12.0: flag status */
    {0x3C, "ContentClass"},            /* 12.0 */
    {0x3D, "FlagType"},                /* 12.0 */
    {0x3E, "CompleteTime"},            /* 12.0 */
    {0x3F, "DisallowNewTimeProposal"}, /* 14.0 */
};

/* Page 3: AirNotify.  No longer used ("tokens 05 through 17 have been
 * defined"); names as libwbxml and Z-Push know them.  Decode only. */
static const as_codepage_tag_t cp_airnotify[] = {
    {0x05, "Notify"},
    {0x06, "Notification"},
    {0x07, "Version"},
    {0x08, "LifeTime"},
    {0x09, "DeviceInfo"},
    {0x0A, "Enable"},
    {0x0B, "Folder"},
    {0x0C, "ServerId"},
    {0x0D, "DeviceAddress"},
    {0x0E, "ValidCarrierProfiles"},
    {0x0F, "CarrierProfile"},
    {0x10, "Status"},
    {0x11, "Responses"},
    {0x12, "Devices"},
    {0x13, "Device"},
    {0x14, "Id"},
    {0x15, "Expiry"},
    {0x16, "NotifyGUID"},
    {0x17, "DeviceFriendlyName"},
};

/* Page 4: Calendar */
static const as_codepage_tag_t cp_calendar[] = {
    {0x05, "Timezone"},
    {0x06, "AllDayEvent"},
    {0x07, "Attendees"},
    {0x08, "Attendee"},
    {0x09, "Email"},
    {0x0A, "Name"},
    {0x0B, "Body"},          /* legacy (2.5) */
    {0x0C, "BodyTruncated"}, /* legacy (2.5) */
    {0x0D, "BusyStatus"},
    {0x0E, "Categories"},
    {0x0F, "Category"},
    {0x10, "Rtf"}, /* legacy (2.5): compressed RTF body */
    {0x11, "DtStamp"},
    {0x12, "EndTime"},
    {0x13, "Exception"},
    {0x14, "Exceptions"},
    {0x15, "Deleted"},
    {0x16, "ExceptionStartTime"},
    {0x17, "Location"},
    {0x18, "MeetingStatus"},
    {0x19, "OrganizerEmail"},
    {0x1A, "OrganizerName"},
    {0x1B, "Recurrence"},
    {0x1C, "Type"},
    {0x1D, "Until"},
    {0x1E, "Occurrences"},
    {0x1F, "Interval"},
    {0x20, "DayOfWeek"},
    {0x21, "DayOfMonth"},
    {0x22, "WeekOfMonth"},
    {0x23, "MonthOfYear"},
    {0x24, "Reminder"},
    {0x25, "Sensitivity"},
    {0x26, "Subject"},
    {0x27, "StartTime"},
    {0x28, "UID"},
    {0x29, "AttendeeStatus"}, /* 12.0 */
    {0x2A, "AttendeeType"},   /* 12.0 */
    /* 0x2B-0x32 unassigned */
    {0x33, "DisallowNewTimeProposal"},   /* 14.0 */
    {0x34, "ResponseRequested"},         /* 14.0 */
    {0x35, "AppointmentReplyTime"},      /* 14.0 */
    {0x36, "ResponseType"},              /* 14.0 */
    {0x37, "CalendarType"},              /* 14.0 */
    {0x38, "IsLeapMonth"},               /* 14.0 */
    {0x39, "FirstDayOfWeek"},            /* 14.1 */
    {0x3A, "OnlineMeetingConfLink"},     /* 14.1 */
    {0x3B, "OnlineMeetingExternalLink"}, /* 14.1 */
    {0x3C, "ClientUid"},                 /* 16.0 */
};

/* Page 5: Move */
static const as_codepage_tag_t cp_move[] = {
    {0x05, "MoveItems"}, {0x06, "Move"},     {0x07, "SrcMsgId"}, {0x08, "SrcFldId"},
    {0x09, "DstFldId"},  {0x0A, "Response"}, {0x0B, "Status"},   {0x0C, "DstMsgId"},
};

/* Page 6: GetItemEstimate */
static const as_codepage_tag_t cp_getitemestimate[] = {
    {0x05, "GetItemEstimate"}, {0x06, "Version"}, /* legacy (2.x) */
    {0x07, "Collections"},     {0x08, "Collection"}, {0x09, "Class"},
    {0x0A, "CollectionId"},    {0x0B, "DateTime"}, /* legacy (2.x) */
    {0x0C, "Estimate"},        {0x0D, "Response"},   {0x0E, "Status"},
};

/* Page 7: FolderHierarchy */
static const as_codepage_tag_t cp_folderhierarchy[] = {
    {0x05, "Folders"}, /* 2.5-12.1 */
    {0x06, "Folder"},  /* 2.5-12.1 */
    {0x07, "DisplayName"}, {0x08, "ServerId"},     {0x09, "ParentId"},     {0x0A, "Type"},
    {0x0B, "Response"},                            /* legacy (2.x) */
    {0x0C, "Status"},      {0x0D, "ContentClass"}, /* legacy (2.x) */
    {0x0E, "Changes"},     {0x0F, "Add"},          {0x10, "Delete"},       {0x11, "Update"},
    {0x12, "SyncKey"},     {0x13, "FolderCreate"}, {0x14, "FolderDelete"}, {0x15, "FolderUpdate"},
    {0x16, "FolderSync"},  {0x17, "Count"},        {0x18, "Version"}, /* legacy (2.0) */
};

/* Page 8: MeetingResponse */
static const as_codepage_tag_t cp_meetingresponse[] = {
    {0x05, "CalendarId"},
    {0x06, "CollectionId"},
    {0x07, "MeetingResponse"},
    {0x08, "RequestId"},
    {0x09, "Request"},
    {0x0A, "Result"},
    {0x0B, "Status"},
    {0x0C, "UserResponse"},
    {0x0D, "Version"},    /* legacy (2.0) */
    {0x0E, "InstanceId"}, /* 14.1 */
    /* 0x0F unassigned */
    {0x10, "ProposedStartTime"}, /* 16.1 */
    {0x11, "ProposedEndTime"},   /* 16.1 */
    {0x12, "SendResponse"},      /* 16.0 */
};

/* Page 9: Tasks */
static const as_codepage_tag_t cp_tasks[] = {
    {0x05, "Body"},          /* legacy (2.5) */
    {0x06, "BodySize"},      /* legacy (2.5) */
    {0x07, "BodyTruncated"}, /* legacy (2.5) */
    {0x08, "Categories"},     {0x09, "Category"},    {0x0A, "Complete"},   {0x0B, "DateCompleted"},
    {0x0C, "DueDate"},        {0x0D, "UtcDueDate"},  {0x0E, "Importance"}, {0x0F, "Recurrence"},
    {0x10, "Type"},           {0x11, "Start"},       {0x12, "Until"},      {0x13, "Occurrences"},
    {0x14, "Interval"},       {0x15, "DayOfMonth"},  {0x16, "DayOfWeek"},  {0x17, "WeekOfMonth"},
    {0x18, "MonthOfYear"},    {0x19, "Regenerate"},  {0x1A, "DeadOccur"},  {0x1B, "ReminderSet"},
    {0x1C, "ReminderTime"},   {0x1D, "Sensitivity"}, {0x1E, "StartDate"},  {0x1F, "UtcStartDate"},
    {0x20, "Subject"},        {0x21, "Rtf"}, /* legacy (2.5): compressed RTF body */
    {0x22, "OrdinalDate"},                   /* 12.0 */
    {0x23, "SubOrdinalDate"},                /* 12.0 */
    {0x24, "CalendarType"},                  /* 14.0 */
    {0x25, "IsLeapMonth"},                   /* 14.0 */
    {0x26, "FirstDayOfWeek"},                /* 14.1 */
};

/* Page 10: ResolveRecipients */
static const as_codepage_tag_t cp_resolverecipients[] = {
    {0x05, "ResolveRecipients"},
    {0x06, "Response"},
    {0x07, "Status"},
    {0x08, "Type"},
    {0x09, "Recipient"},
    {0x0A, "DisplayName"},
    {0x0B, "EmailAddress"},
    {0x0C, "Certificates"},
    {0x0D, "Certificate"},
    {0x0E, "MiniCertificate"},
    {0x0F, "Options"},
    {0x10, "To"},
    {0x11, "CertificateRetrieval"},
    {0x12, "RecipientCount"},
    {0x13, "MaxCertificates"},
    {0x14, "MaxAmbiguousRecipients"},
    {0x15, "CertificateCount"},
    {0x16, "Availability"},   /* 14.0 */
    {0x17, "StartTime"},      /* 14.0 */
    {0x18, "EndTime"},        /* 14.0 */
    {0x19, "MergedFreeBusy"}, /* 14.0 */
    {0x1A, "Picture"},        /* 14.1 */
    {0x1B, "MaxSize"},        /* 14.1 */
    {0x1C, "Data"},           /* 14.1 */
    {0x1D, "MaxPictures"},    /* 14.1 */
};

/* Page 11: ValidateCert */
static const as_codepage_tag_t cp_validatecert[] = {
    {0x05, "ValidateCert"},     {0x06, "Certificates"}, {0x07, "Certificate"},
    {0x08, "CertificateChain"}, {0x09, "CheckCRL"},     {0x0A, "Status"},
};

/* Page 12: Contacts2 */
static const as_codepage_tag_t cp_contacts2[] = {
    {0x05, "CustomerId"}, {0x06, "GovernmentId"}, {0x07, "IMAddress"},        {0x08, "IMAddress2"},
    {0x09, "IMAddress3"}, {0x0A, "ManagerName"},  {0x0B, "CompanyMainPhone"}, {0x0C, "AccountName"},
    {0x0D, "NickName"},   {0x0E, "MMS"},
};

/* Page 13: Ping */
static const as_codepage_tag_t cp_ping[] = {
    {0x05, "Ping"},       {0x06, "AutdState"}, /* legacy: never used on the wire */
    {0x07, "Status"},     {0x08, "HeartbeatInterval"},
    {0x09, "Folders"},    {0x0A, "Folder"},
    {0x0B, "Id"},         {0x0C, "Class"},
    {0x0D, "MaxFolders"},
};

/* Page 14: Provision */
static const as_codepage_tag_t cp_provision[] = {
    {0x05, "Provision"},
    {0x06, "Policies"},
    {0x07, "Policy"},
    {0x08, "PolicyType"},
    {0x09, "PolicyKey"},
    {0x0A, "Data"},
    {0x0B, "Status"},
    {0x0C, "RemoteWipe"},
    {0x0D, "EASProvisionDoc"},                    /* 12.0 */
    {0x0E, "DevicePasswordEnabled"},              /* 12.0 */
    {0x0F, "AlphanumericDevicePasswordRequired"}, /* 12.0 */
    {0x10, "RequireStorageCardEncryption"},       /* 12.1; 12.0 "DeviceEncryptionEnabled" */
    {0x11, "PasswordRecoveryEnabled"},            /* 12.0 */
    {0x12, "DocumentBrowseEnabled"},              /* legacy (12.0 only) */
    {0x13, "AttachmentsEnabled"},
    {0x14, "MinDevicePasswordLength"},
    {0x15, "MaxInactivityTimeDeviceLock"},
    {0x16, "MaxDevicePasswordFailedAttempts"},
    {0x17, "MaxAttachmentSize"},
    {0x18, "AllowSimpleDevicePassword"},
    {0x19, "DevicePasswordExpiration"},
    {0x1A, "DevicePasswordHistory"},
    {0x1B, "AllowStorageCard"}, /* 12.1 ... */
    {0x1C, "AllowCamera"},
    {0x1D, "RequireDeviceEncryption"},
    {0x1E, "AllowUnsignedApplications"},
    {0x1F, "AllowUnsignedInstallationPackages"},
    {0x20, "MinDevicePasswordComplexCharacters"},
    {0x21, "AllowWiFi"},
    {0x22, "AllowTextMessaging"},
    {0x23, "AllowPOPIMAPEmail"},
    {0x24, "AllowBluetooth"},
    {0x25, "AllowIrDA"},
    {0x26, "RequireManualSyncWhenRoaming"},
    {0x27, "AllowDesktopSync"},
    {0x28, "MaxCalendarAgeFilter"},
    {0x29, "AllowHTMLEmail"},
    {0x2A, "MaxEmailAgeFilter"},
    {0x2B, "MaxEmailBodyTruncationSize"},
    {0x2C, "MaxEmailHTMLBodyTruncationSize"},
    {0x2D, "RequireSignedSMIMEMessages"},
    {0x2E, "RequireEncryptedSMIMEMessages"},
    {0x2F, "RequireSignedSMIMEAlgorithm"},
    {0x30, "RequireEncryptionSMIMEAlgorithm"},
    {0x31, "AllowSMIMEEncryptionAlgorithmNegotiation"},
    {0x32, "AllowSMIMESoftCerts"},
    {0x33, "AllowBrowser"},
    {0x34, "AllowConsumerEmail"},
    {0x35, "AllowRemoteDesktop"},
    {0x36, "AllowInternetSharing"},
    {0x37, "UnapprovedInROMApplicationList"},
    {0x38, "ApplicationName"},
    {0x39, "ApprovedApplicationList"},
    {0x3A, "Hash"},                  /* ... 12.1 */
    {0x3B, "AccountOnlyRemoteWipe"}, /* 16.1 */
};

/* Page 15: Search */
static const as_codepage_tag_t cp_search[] = {
    {0x05, "Search"},
    /* 0x06 unassigned */
    {0x07, "Store"},
    {0x08, "Name"},
    {0x09, "Query"},
    {0x0A, "Options"},
    {0x0B, "Range"},
    {0x0C, "Status"},
    {0x0D, "Response"},
    {0x0E, "Result"},
    {0x0F, "Properties"},
    {0x10, "Total"},
    {0x11, "EqualTo"},
    {0x12, "Value"},
    {0x13, "And"},
    {0x14, "Or"},
    {0x15, "FreeText"},
    /* 0x16 unassigned */
    {0x17, "DeepTraversal"},
    {0x18, "LongId"},
    {0x19, "RebuildResults"},
    {0x1A, "LessThan"},
    {0x1B, "GreaterThan"},
    {0x1C, "Schema"},         /* legacy */
    {0x1D, "Supported"},      /* legacy */
    {0x1E, "UserName"},       /* 12.1 */
    {0x1F, "Password"},       /* 12.1 */
    {0x20, "ConversationId"}, /* 14.0 */
    {0x21, "Picture"},        /* 14.1 */
    {0x22, "MaxSize"},        /* 14.1 */
    {0x23, "MaxPictures"},    /* 14.1 */
};

/* Page 16: GAL */
static const as_codepage_tag_t cp_gal[] = {
    {0x05, "DisplayName"}, {0x06, "Phone"},        {0x07, "Office"},
    {0x08, "Title"},       {0x09, "Company"},      {0x0A, "Alias"},
    {0x0B, "FirstName"},   {0x0C, "LastName"},     {0x0D, "HomePhone"},
    {0x0E, "MobilePhone"}, {0x0F, "EmailAddress"}, {0x10, "Picture"}, /* 14.1 */
    {0x11, "Status"},                                                 /* 14.1 */
    {0x12, "Data"},                                                   /* 14.1 */
};

/* Page 17: AirSyncBase (12.0) */
static const as_codepage_tag_t cp_airsyncbase[] = {
    {0x05, "BodyPreference"},
    {0x06, "Type"},
    {0x07, "TruncationSize"},
    {0x08, "AllOrNone"},
    /* 0x09 unassigned */
    {0x0A, "Body"},
    {0x0B, "Data"},
    {0x0C, "EstimatedDataSize"},
    {0x0D, "Truncated"},
    {0x0E, "Attachments"},
    {0x0F, "Attachment"},
    {0x10, "DisplayName"},
    {0x11, "FileReference"},
    {0x12, "Method"},
    {0x13, "ContentId"},
    {0x14, "ContentLocation"},
    {0x15, "IsInline"},
    {0x16, "NativeBodyType"},
    {0x17, "ContentType"},
    {0x18, "Preview"},            /* 14.0 */
    {0x19, "BodyPartPreference"}, /* 14.1 */
    {0x1A, "BodyPart"},           /* 14.1 */
    {0x1B, "Status"},             /* 14.1 */
    {0x1C, "Add"},                /* 16.0 ... */
    {0x1D, "Delete"},
    {0x1E, "ClientId"},
    {0x1F, "Content"},
    {0x20, "Location"},
    {0x21, "Annotation"},
    {0x22, "Street"},
    {0x23, "City"},
    {0x24, "State"},
    {0x25, "Country"},
    {0x26, "PostalCode"},
    {0x27, "Latitude"},
    {0x28, "Longitude"},
    {0x29, "Accuracy"},
    {0x2A, "Altitude"},
    {0x2B, "AltitudeAccuracy"},
    {0x2C, "LocationUri"},
    {0x2D, "InstanceId"}, /* ... 16.0 */
};

/* Page 18: Settings (12.0) */
static const as_codepage_tag_t cp_settings[] = {
    {0x05, "Settings"},
    {0x06, "Status"},
    {0x07, "Get"},
    {0x08, "Set"},
    {0x09, "Oof"},
    {0x0A, "OofState"},
    {0x0B, "StartTime"},
    {0x0C, "EndTime"},
    {0x0D, "OofMessage"},
    {0x0E, "AppliesToInternal"},
    {0x0F, "AppliesToExternalKnown"},
    {0x10, "AppliesToExternalUnknown"},
    {0x11, "Enabled"},
    {0x12, "ReplyMessage"},
    {0x13, "BodyType"},
    {0x14, "DevicePassword"},
    {0x15, "Password"},
    {0x16, "DeviceInformation"},
    {0x17, "Model"},
    {0x18, "IMEI"},
    {0x19, "FriendlyName"},
    {0x1A, "OS"},
    {0x1B, "OSLanguage"},
    {0x1C, "PhoneNumber"},
    {0x1D, "UserInformation"},
    {0x1E, "EmailAddresses"},
    {0x1F, "SMTPAddress"},
    {0x20, "UserAgent"},          /* 12.1 */
    {0x21, "EnableOutboundSMS"},  /* 14.0 */
    {0x22, "MobileOperator"},     /* 14.0 */
    {0x23, "PrimarySmtpAddress"}, /* 14.1 ... */
    {0x24, "Accounts"},
    {0x25, "Account"},
    {0x26, "AccountId"},
    {0x27, "AccountName"},
    {0x28, "UserDisplayName"},
    {0x29, "SendDisabled"},
    /* 0x2A unassigned */
    {0x2B, "RightsManagementInformation"}, /* ... 14.1 */
};

/* Page 19: DocumentLibrary (12.0) */
static const as_codepage_tag_t cp_documentlibrary[] = {
    {0x05, "LinkId"},        {0x06, "DisplayName"},      {0x07, "IsFolder"},
    {0x08, "CreationDate"},  {0x09, "LastModifiedDate"}, {0x0A, "IsHidden"},
    {0x0B, "ContentLength"}, {0x0C, "ContentType"},
};

/* Page 20: ItemOperations (12.0) */
static const as_codepage_tag_t cp_itemoperations[] = {
    {0x05, "ItemOperations"},
    {0x06, "Fetch"},
    {0x07, "Store"},
    {0x08, "Options"},
    {0x09, "Range"},
    {0x0A, "Total"},
    {0x0B, "Properties"},
    {0x0C, "Data"},
    {0x0D, "Status"},
    {0x0E, "Response"},
    {0x0F, "Version"},
    {0x10, "Schema"},
    {0x11, "Part"},
    {0x12, "EmptyFolderContents"},
    {0x13, "DeleteSubFolders"},
    {0x14, "UserName"},       /* 12.1 */
    {0x15, "Password"},       /* 12.1 */
    {0x16, "Move"},           /* 14.0 */
    {0x17, "DstFldId"},       /* 14.0 */
    {0x18, "ConversationId"}, /* 14.0 */
    {0x19, "MoveAlways"},     /* 14.0 */
};

/* Page 21: ComposeMail (14.0) */
static const as_codepage_tag_t cp_composemail[] = {
    {0x05, "SendMail"},
    {0x06, "SmartForward"},
    {0x07, "SmartReply"},
    {0x08, "SaveInSentItems"},
    {0x09, "ReplaceMime"},
    /* 0x0A unassigned */
    {0x0B, "Source"},
    {0x0C, "FolderId"},
    {0x0D, "ItemId"},
    {0x0E, "LongId"},
    {0x0F, "InstanceId"},
    {0x10, "Mime"},
    {0x11, "ClientId"},
    {0x12, "Status"},
    {0x13, "AccountId"}, /* 14.1 */
    /* 0x14 unassigned */
    {0x15, "Forwardees"},     /* 16.0 */
    {0x16, "Forwardee"},      /* 16.0 */
    {0x17, "ForwardeeName"},  /* 16.0 */
    {0x18, "ForwardeeEmail"}, /* 16.0 */
};

/* Page 22: Email2 (14.0) */
static const as_codepage_tag_t cp_email2[] = {
    {0x05, "UmCallerID"},
    {0x06, "UmUserNotes"},
    {0x07, "UmAttDuration"},
    {0x08, "UmAttOrder"},
    {0x09, "ConversationId"},
    {0x0A, "ConversationIndex"},
    {0x0B, "LastVerbExecuted"},
    {0x0C, "LastVerbExecutionTime"},
    {0x0D, "ReceivedAsBcc"},
    {0x0E, "Sender"},
    {0x0F, "CalendarType"},
    {0x10, "IsLeapMonth"},
    {0x11, "AccountId"},          /* 14.1 */
    {0x12, "FirstDayOfWeek"},     /* 14.1 */
    {0x13, "MeetingMessageType"}, /* 14.1 */
    /* 0x14 unassigned */
    {0x15, "IsDraft"}, /* 16.0 */
    {0x16, "Bcc"},     /* 16.0 */
    {0x17, "Send"},    /* 16.0 */
};

/* Page 23: Notes (14.0) */
static const as_codepage_tag_t cp_notes[] = {
    {0x05, "Subject"},    {0x06, "MessageClass"}, {0x07, "LastModifiedDate"},
    {0x08, "Categories"}, {0x09, "Category"},
};

/* Page 24: RightsManagement (14.1) */
static const as_codepage_tag_t cp_rightsmanagement[] = {
    {0x05, "RightsManagementSupport"},
    {0x06, "RightsManagementTemplates"},
    {0x07, "RightsManagementTemplate"},
    {0x08, "RightsManagementLicense"},
    {0x09, "EditAllowed"},
    {0x0A, "ReplyAllowed"},
    {0x0B, "ReplyAllAllowed"},
    {0x0C, "ForwardAllowed"},
    {0x0D, "ModifyRecipientsAllowed"},
    {0x0E, "ExtractAllowed"},
    {0x0F, "PrintAllowed"},
    {0x10, "ExportAllowed"},
    {0x11, "ProgrammaticAccessAllowed"},
    {0x12, "Owner"},
    {0x13, "ContentExpiryDate"},
    {0x14, "TemplateID"},
    {0x15, "TemplateName"},
    {0x16, "TemplateDescription"},
    {0x17, "ContentOwner"},
    {0x18, "RemoveRightsManagementProtection"},
};

/* Page 25: Find (16.1) */
static const as_codepage_tag_t cp_find[] = {
    {0x05, "Find"},
    {0x06, "SearchId"},
    {0x07, "ExecuteSearch"},
    {0x08, "MailBoxSearchCriterion"},
    {0x09, "Query"},
    {0x0A, "Status"},
    {0x0B, "FreeText"},
    {0x0C, "Options"},
    {0x0D, "Range"},
    {0x0E, "DeepTraversal"},
    /* 0x0F-0x10 unassigned */
    {0x11, "Response"},
    {0x12, "Result"},
    {0x13, "Properties"},
    {0x14, "Preview"},
    {0x15, "HasAttachments"},
    {0x16, "Total"},
    {0x17, "DisplayCc"},
    {0x18, "DisplayBcc"},
    {0x19, "GalSearchCriterion"}, /* MS-ASCMD and its schema: "GALSearchCriterion" */
    /* 0x1A-0x1F unassigned */
    {0x20, "MaxPictures"},
    {0x21, "MaxSize"},
    {0x22, "Picture"},
};

#define PAGE(n, name, prefix, tags)                                                                \
    {                                                                                              \
        n, name, name ":", prefix, tags, NTAGS(tags)                                               \
    }

static const as_codepage_t codepages[AS_CODEPAGE_COUNT] = {
    PAGE(0, "AirSync", "airsync", cp_airsync),
    PAGE(1, "Contacts", "contacts", cp_contacts),
    PAGE(2, "Email", "email", cp_email),
    PAGE(3, "AirNotify", "airnotify", cp_airnotify),
    PAGE(4, "Calendar", "calendar", cp_calendar),
    PAGE(5, "Move", "move", cp_move),
    PAGE(6, "GetItemEstimate", "getitemestimate", cp_getitemestimate),
    PAGE(7, "FolderHierarchy", "folderhierarchy", cp_folderhierarchy),
    PAGE(8, "MeetingResponse", "meetingresponse", cp_meetingresponse),
    PAGE(9, "Tasks", "tasks", cp_tasks),
    PAGE(10, "ResolveRecipients", "resolverecipients", cp_resolverecipients),
    PAGE(11, "ValidateCert", "validatecert", cp_validatecert),
    PAGE(12, "Contacts2", "contacts2", cp_contacts2),
    PAGE(13, "Ping", "ping", cp_ping),
    PAGE(14, "Provision", "provision", cp_provision),
    PAGE(15, "Search", "search", cp_search),
    PAGE(16, "GAL", "gal", cp_gal),
    PAGE(17, "AirSyncBase", "airsyncbase", cp_airsyncbase),
    PAGE(18, "Settings", "settings", cp_settings),
    PAGE(19, "DocumentLibrary", "documentlibrary", cp_documentlibrary),
    PAGE(20, "ItemOperations", "itemoperations", cp_itemoperations),
    PAGE(21, "ComposeMail", "composemail", cp_composemail),
    PAGE(22, "Email2", "email2", cp_email2),
    PAGE(23, "Notes", "notes", cp_notes),
    PAGE(24, "RightsManagement", "rightsmanagement", cp_rightsmanagement),
    PAGE(25, "Find", "find", cp_find),
};

const as_codepage_t *as_codepage(unsigned page)
{
    if (page >= AS_CODEPAGE_COUNT) {
        return NULL;
    }
    return &codepages[page];
}

const char *as_codepage_tag_name(unsigned page, unsigned token)
{
    const as_codepage_t *cp = as_codepage(page);
    size_t lo = 0, hi;

    if (cp == NULL || token < 0x05 || token > 0x3F) {
        return NULL;
    }
    /* Binary search: tables are sorted by token. */
    hi = cp->ntags;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        unsigned t = cp->tags[mid].token;

        if (t == token) {
            return cp->tags[mid].name;
        }
        if (t < token) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* ns equals name, optionally followed by a single colon. */
static int ns_matches(const char *ns, const char *name)
{
    size_t n = strlen(name);

    return strncmp(ns, name, n) == 0 && (ns[n] == '\0' || (ns[n] == ':' && ns[n + 1] == '\0'));
}

int as_codepage_by_ns(const char *ns)
{
    unsigned i;

    if (ns == NULL) {
        return -1;
    }
    for (i = 0; i < AS_CODEPAGE_COUNT; i++) {
        if (ns_matches(ns, codepages[i].name)) {
            return (int)i;
        }
    }
    /* libwbxml names page 16 "Gal:" */
    if (ns_matches(ns, "Gal")) {
        return 16;
    }
    return -1;
}

int as_codepage_tag_token(unsigned page, const char *name)
{
    const as_codepage_t *cp = as_codepage(page);
    size_t i;

    if (cp == NULL || name == NULL) {
        return -1;
    }
    for (i = 0; i < cp->ntags; i++) {
        if (strcmp(cp->tags[i].name, name) == 0) {
            return cp->tags[i].token;
        }
    }
    return -1;
}
